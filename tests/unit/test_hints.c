/* test_hints.c — tools/hints.c: the hint names the fallback reason that passed the most bytes
 * through, not the most frequent one; every reason can dominate and has a hint of its own; no hint
 * when the fallbacks passed under a tenth of the bytes written, or when there were none. */
#include <criterion/criterion.h>

#include "../../tools/hints.c" /* the tool's file, tested alone (the unit rule links the shim's core) */

#include <stdio.h>
#include <string.h>

#define BYTES_OF(r) zc_fb_bytes((enum zc_counter)(r))

/* every reason in turn: it passed the most bytes in few writes, another reason many small writes */
Test(hints, each_reason_can_dominate_by_bytes)
{
	for (int r = ZC_fb_mode_off; r <= ZC_fb_forking; r++) {
		uint64_t v[ZC_NCOUNTERS] = {0};
		int other = r == ZC_fb_no_record ? ZC_fb_small : ZC_fb_no_record;
		v[r] = 3, v[BYTES_OF(r)] = 3 << 20;
		v[other] = 60, v[BYTES_OF(other)] = 60 * 4096;
		v[ZC_bytes_passthrough] = v[BYTES_OF(r)] + v[BYTES_OF(other)];
		cr_assert_eq(zc_hint_reason(v), (enum zc_counter)r, "%s should dominate, got %s", zc_counter_names[r],
			     zc_hint_reason(v) < ZC_NCOUNTERS ? zc_counter_names[zc_hint_reason(v)] : "none");
		const char *t = zc_hint_text((enum zc_counter)r);
		cr_assert(t && strlen(t) > 20, "%s has no hint", zc_counter_names[r]);
		char out[2048] = "";
		FILE *f = fmemopen(out, sizeof out, "w");
		zc_hint_print(f, v);
		fclose(f);
		char head[96];
		snprintf(head, sizeof head, "  hint (%s: 3 writes, %d bytes passed through):", zc_counter_names[r] + 3, 3 << 20);
		cr_assert(strstr(out, head) == out, "printed: %s", out);
		cr_assert(strstr(out, t), "the hint's text is printed");
	}
}

Test(hints, each_reason_has_its_own_text)
{
	for (int a = ZC_fb_mode_off; a <= ZC_fb_forking; a++)
		for (int b = ZC_fb_mode_off; b < a; b++)
			cr_assert_str_neq(zc_hint_text((enum zc_counter)a), zc_hint_text((enum zc_counter)b), "%s and %s",
					  zc_counter_names[a], zc_counter_names[b]);
	cr_assert_null(zc_hint_text(ZC_calls_read), "only fallback reasons have hints");
	cr_assert_null(zc_hint_text(ZC_NCOUNTERS));
}

/* the python http.server report of the issue: small 60, no_record 7 — small passed the bytes */
Test(hints, bytes_beat_counts)
{
	uint64_t v[ZC_NCOUNTERS] = {0};
	v[ZC_fb_small] = 60, v[BYTES_OF(ZC_fb_small)] = 60 * 65536;
	v[ZC_fb_no_record] = 7, v[BYTES_OF(ZC_fb_no_record)] = 7 * 200;
	v[ZC_bytes_passthrough] = 60 * 65536 + 7 * 200;
	cr_assert_eq(zc_hint_reason(v), ZC_fb_small);
	v[ZC_fb_no_record] = 700; /* more writes, still fewer bytes */
	cr_assert_eq(zc_hint_reason(v), ZC_fb_small);
	v[BYTES_OF(ZC_fb_no_record)] = 61 * 65536;
	cr_assert_eq(zc_hint_reason(v), ZC_fb_no_record);
}

/* writes that all failed pass no bytes: the most writes decide */
Test(hints, counts_decide_without_bytes)
{
	uint64_t v[ZC_NCOUNTERS] = {0};
	v[ZC_fb_small] = 2, v[ZC_fb_dirty] = 5;
	cr_assert_eq(zc_hint_reason(v), ZC_fb_dirty);
}

static int printed(const uint64_t *v)
{
	char out[2048] = "";
	FILE *f = fmemopen(out, sizeof out, "w");
	zc_hint_print(f, v);
	fclose(f);
	return out[0] != 0;
}

Test(hints, none_without_a_fallback_that_matters)
{
	uint64_t v[ZC_NCOUNTERS] = {0};
	cr_assert_eq(zc_hint_reason(v), ZC_NCOUNTERS);
	cr_assert_not(printed(v), "no fallback, no hint");
	/* a rewritten copy loop: its first chunk on probation, 1/16 of the bytes */
	v[ZC_fb_probation] = 1, v[BYTES_OF(ZC_fb_probation)] = 262144;
	v[ZC_bytes_passthrough] = 262144, v[ZC_rw_copy_file_range_bytes] = 15 * 262144;
	cr_assert_not(printed(v), "under a tenth of the bytes");
	v[ZC_rw_copy_file_range_bytes] = 5 * 262144;
	cr_assert(printed(v), "a sixth of the bytes");
}
