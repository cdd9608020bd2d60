/* test_size.c — shim/size.h: the one byte-count parser (digits, one unit letter among those the
 * caller allows, either case, nothing else, no wrap-around), and that its three users agree with
 * it: the shim's configuration (units K and M, at most 1 GiB) and the test programs' progs_size
 * (every unit, at most LLONG_MAX). */
#include <criterion/criterion.h>

#include "config.h"
#include "real.h"
#include "size.h"
#include "../progs/progs.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static void setup(void)
{
	zc_real_resolve();
}

TestSuite(size, .init = setup);

#define KI (UINT64_C(1) << 10)
#define MI (UINT64_C(1) << 20)
#define GI (UINT64_C(1) << 30)
#define TI (UINT64_C(1) << 40)

/* ok — s parses under units to want. */
static void ok(const char *s, const char *units, uint64_t want)
{
	uint64_t v = 12345;
	cr_assert_eq(zc_size_parse(s, units, &v), 0, "'%s' (units %s) refused", s, units ? units : "NULL");
	cr_assert_eq(v, want, "'%s': %llu, want %llu", s, (unsigned long long)v, (unsigned long long)want);
}

/* bad — s is refused under units and *out is left as it was. */
static void bad(const char *s, const char *units)
{
	uint64_t v = 12345;
	cr_assert_eq(zc_size_parse(s, units, &v), -1, "'%s' (units %s) accepted as %llu", s ? s : "NULL",
		     units ? units : "NULL", (unsigned long long)v);
	cr_assert_eq(v, 12345, "'%s': the out-parameter was changed on failure", s ? s : "NULL");
}

Test(size, plain_digits)
{
	ok("0", ZC_SIZE_ALL, 0);
	ok("1", ZC_SIZE_ALL, 1);
	ok("65536", ZC_SIZE_ALL, 65536);
	ok("000064", ZC_SIZE_ALL, 64);
	ok("18446744073709551615", ZC_SIZE_ALL, UINT64_MAX);
	ok("7", "", 7);
	ok("7", NULL, 7);
}

Test(size, every_unit_in_either_case)
{
	ok("64K", ZC_SIZE_ALL, 64 * KI);
	ok("64k", ZC_SIZE_ALL, 64 * KI);
	ok("1M", ZC_SIZE_ALL, MI);
	ok("3m", ZC_SIZE_ALL, 3 * MI);
	ok("2G", ZC_SIZE_ALL, 2 * GI);
	ok("2g", ZC_SIZE_ALL, 2 * GI);
	ok("1T", ZC_SIZE_ALL, TI);
	ok("5t", ZC_SIZE_ALL, 5 * TI);
	ok("0K", ZC_SIZE_ALL, 0);
	ok("0010K", ZC_SIZE_ALL, 10 * KI);
}

Test(size, only_the_units_the_caller_allows)
{
	ok("64K", ZC_SIZE_KM, 64 * KI);
	ok("1m", ZC_SIZE_KM, MI);
	bad("1G", ZC_SIZE_KM);
	bad("1g", ZC_SIZE_KM);
	bad("1T", ZC_SIZE_KM);
	bad("1M", "K");
	bad("1K", "");
	bad("1K", NULL);
	bad("1X", "KMGTX"); /* a letter that is no unit stays refused */
}

Test(size, junk_signs_blanks_and_other_spellings)
{
	static const char *const junk[] = {
		"", "-1", "-0", "+5", " 5", "5 ", "\t5", "5\n", "K", "k", "abc", "12x", "1KB", "1KiB", "1kib",
		"1KK", "1.5K", "1,5K", "0x10", "1 K", "1K ", "1P", "1E", "1B", "1e3", "1_000",
	};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		bad(junk[i], ZC_SIZE_ALL);
	bad(NULL, ZC_SIZE_ALL);
}

/* Neither the digits nor the unit's multiplication may wrap to a small value. */
Test(size, overflow_rejected_not_wrapped)
{
	bad("18446744073709551616", ZC_SIZE_ALL);       /* 2^64 */
	bad("99999999999999999999", ZC_SIZE_ALL);
	bad("184467440737095516150", ZC_SIZE_ALL);
	bad("18014398509481984K", ZC_SIZE_ALL);         /* 2^54 K = 2^64 */
	bad("18014398509481984k", ZC_SIZE_ALL);
	bad("17592186044416M", ZC_SIZE_ALL);            /* 2^44 M = 2^64 */
	bad("17179869184G", ZC_SIZE_ALL);               /* 2^34 G = 2^64 */
	bad("16777216T", ZC_SIZE_ALL);                  /* 2^24 T = 2^64 */
	bad("18446744073709551615K", ZC_SIZE_ALL);
	ok("18014398509481983K", ZC_SIZE_ALL, UINT64_MAX - (KI - 1));
	ok("16777215T", ZC_SIZE_ALL, UINT64_MAX - (TI - 1));
}

/* The test programs' progs_size: the same syntax, -1 for junk and for what a long long cannot hold. */
Test(size, progs_size_follows_the_parser)
{
	cr_assert_eq(progs_size("64K"), 65536);
	cr_assert_eq(progs_size("2g"), (long long)(2 * GI));
	cr_assert_eq(progs_size("1T"), (long long)TI);
	cr_assert_eq(progs_size("9223372036854775807"), LLONG_MAX);
	cr_assert_eq(progs_size("9223372036854775808"), -1);
	cr_assert_eq(progs_size("8388607T"), (long long)(8388607 * TI));
	cr_assert_eq(progs_size("8388608T"), -1);             /* 2^63 */
	cr_assert_eq(progs_size("-1"), -1);
	cr_assert_eq(progs_size(" 5"), -1);
	cr_assert_eq(progs_size("1KB"), -1);
	cr_assert_eq(progs_size("18014398509481984K"), -1);
}

/* The configuration's byte counts are the parser under units K and M, with its 1 GiB limit. */
Test(size, config_follows_the_parser)
{
	static const char *const cases[] = {
		"0", "1", "65536", "64K", "64k", "1M", "3m", "1024M", "1048576K", "1073741824",
		"1073741825", "1025M", "1G", "1g", "1T", "1KB", "1KiB", " 5", "+5", "-1", "",
		"18014398509481984K", "18446744073709551616",
	};
	struct zc_config c;
	char got[64], want[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v;
		int accept = zc_size_parse(cases[i], ZC_SIZE_KM, &v) == 0 && v <= GI;
		zc_config_defaults(&c);
		int rc = zc_config_set(&c, "min_bytes_pipe", cases[i], "test", -1);
		cr_assert_eq(rc == 0, accept, "min_bytes_pipe = '%s': config %s, parser %s", cases[i],
			     rc ? "refuses" : "accepts", accept ? "accepts" : "refuses");
		if (!accept)
			continue;
		zc_config_get(&c, "min_bytes_pipe", got, sizeof got);
		snprintf(want, sizeof want, "%llu", (unsigned long long)v);
		cr_assert_str_eq(got, want, "min_bytes_pipe = '%s'", cases[i]);
	}
}
