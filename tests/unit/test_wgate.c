/* test_wgate.c — writes in flight per descriptor: a split only when its call is the one in flight,
 * calls arriving during a split wait for its end, a holder that dies is let go, a fork starts clean,
 * a stray leave (a child forked inside a call) blocks nobody. */
#include <criterion/criterion.h>

#include "real.h"
#include "wgate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void setup(void)
{
	zc_real_resolve();
	zc_wgate_init();
}

TestSuite(wgate, .init = setup);

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

Test(wgate, covers_small_descriptors_only)
{
	cr_assert(zc_wgate_covers(0));
	cr_assert(zc_wgate_covers(65535));
	cr_assert_not(zc_wgate_covers(65536));
	cr_assert_not(zc_wgate_covers(-1));
	cr_assert_eq(zc_wgate_enter(70000), 0, "an uncovered descriptor is not counted");
	cr_assert_not(zc_wgate_split_begin(70000));
}

Test(wgate, split_only_when_alone_in_flight)
{
	int a = zc_wgate_enter(7);
	cr_assert_eq(a, 1);
	cr_assert(zc_wgate_split_begin(7), "the one call in flight may split");
	zc_wgate_split_end(7);
	int b = zc_wgate_enter(7); /* a second call in flight */
	cr_assert_not(zc_wgate_split_begin(7), "another write is in flight: no split");
	zc_wgate_leave(7, b);
	cr_assert(zc_wgate_split_begin(7), "alone again");
	zc_wgate_split_end(7);
	zc_wgate_leave(7, a);
	cr_assert_not(zc_wgate_split_begin(8), "a split needs its own call counted first");
}

static atomic_int entered;
static void *second_writer(void *arg)
{
	int fd = (int)(long)arg;
	int g = zc_wgate_enter(fd); /* waits while the split holds fd */
	atomic_store(&entered, 1);
	zc_wgate_leave(fd, g);
	return NULL;
}

Test(wgate, a_call_arriving_during_a_split_waits_for_its_end)
{
	pthread_t t;
	int g = zc_wgate_enter(9);
	cr_assert(zc_wgate_split_begin(9));
	atomic_store(&entered, 0);
	pthread_create(&t, NULL, second_writer, (void *)9L);
	for (int i = 0; i < 200 && __atomic_load_n(&zc_wgate_tab[9].count, __ATOMIC_SEQ_CST) < 2; i++) usleep(1000);
	cr_assert_eq(__atomic_load_n(&zc_wgate_tab[9].count, __ATOMIC_SEQ_CST), 2, "the second call never arrived");
	usleep(50 * 1000);
	cr_assert_eq(atomic_load(&entered), 0, "the second call went in during the split");
	zc_wgate_split_end(9);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&entered), 1);
	zc_wgate_leave(9, g);
	cr_assert(zc_wgate_enter(9) && zc_wgate_split_begin(9), "the word is clean after both left");
	zc_wgate_split_end(9);
	zc_wgate_leave(9, 1);
}

static void *dies_holding(void *arg)
{
	int fd = (int)(long)arg;
	zc_wgate_enter(fd);
	zc_wgate_split_begin(fd);
	return NULL; /* as a thread cancelled inside its split would: never ends it */
}

Test(wgate, a_holder_that_died_is_let_go)
{
	pthread_t t;
	pthread_create(&t, NULL, dies_holding, (void *)11L);
	pthread_join(t, NULL);
	long t0 = now_ms();
	int g = zc_wgate_enter(11);
	cr_assert_eq(g, 1);
	cr_assert_lt(now_ms() - t0, 2000, "waited %ld ms for a dead holder", now_ms() - t0);
	cr_assert_not(zc_wgate_split_begin(11), "the dead thread's call still counts: no split");
	zc_wgate_leave(11, g);
}

Test(wgate, a_forked_child_starts_clean)
{
	int g = zc_wgate_enter(12);
	cr_assert(zc_wgate_split_begin(12));
	int b = zc_wgate_enter(13);
	pid_t p = fork();
	if (p == 0) {
		zc_wgate_atfork_child();
		int ok = zc_wgate_enter(12) && zc_wgate_split_begin(12) && zc_wgate_enter(13) && zc_wgate_split_begin(13);
		_exit(ok ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw its parent's calls in flight");
	zc_wgate_split_end(12);
	zc_wgate_leave(12, g);
	zc_wgate_leave(13, b);
}

Test(wgate, a_stray_leave_never_blocks_a_writer)
{
	zc_wgate_leave(14, 1); /* as a call forked into a child that started clean leaves there */
	long t0 = now_ms();
	int g = zc_wgate_enter(14);
	cr_assert_lt(now_ms() - t0, 1000, "a writer waited after a stray leave");
	cr_assert_not(zc_wgate_split_begin(14), "the count is wrong now: no split on this descriptor");
	zc_wgate_leave(14, g);
	int h = zc_wgate_enter(15); /* its neighbour is untouched */
	cr_assert(zc_wgate_split_begin(15));
	zc_wgate_split_end(15);
	zc_wgate_leave(15, h);
}
