/* tests/unit/common/test_gw_thread.c: background threads run at nice 19, only themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gw_thread.h"

static int nice_of_this_thread(void)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    assert_int_equal(errno, 0);
    return n;
}

static void *grandchild(void *arg)
{
    *(int *)arg = nice_of_this_thread();
    return NULL;
}

struct seen {
    int before, after, inherited;
};

static void *child(void *arg)
{
    struct seen *s = arg;
    s->before = nice_of_this_thread();
    gw_thread_set_background("unit test");
    s->after = nice_of_this_thread();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, grandchild, &s->inherited), 0);
    pthread_join(t, NULL);
    return NULL;
}

static void lowers_the_calling_thread_only(void **state)
{
    (void)state;
    int main_before = nice_of_this_thread();
    struct seen s = {-100, -100, -100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, child, &s), 0);
    pthread_join(t, NULL);
    assert_int_equal(s.before, main_before);
    assert_int_equal(s.after, GW_THREAD_BACKGROUND_NICE);
    /* threads created by a background thread are background threads too */
    assert_int_equal(s.inherited, GW_THREAD_BACKGROUND_NICE);
    /* the rest of the process keeps its priority */
    assert_int_equal(nice_of_this_thread(), main_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lowers_the_calling_thread_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
