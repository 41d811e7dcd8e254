/* tests/unit/dp/test_dp_config_reaper.c: while the reaper runs, a config whose last reference
 * goes is freed by the reaper thread, not by the thread that dropped it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "cfg_helpers.h"
#include "config/dp_config_reaper.h"
#include "dp_config.h"
#include "dp_config_internal.h"

static struct dp_config *build(struct cfgh *h)
{
    struct dp_config *cfg = NULL;
    assert_int_equal(dp_config_build(&h->cfg, 1, "h", NULL, NULL, &cfg), GW_OK);
    return cfg;
}

static void last_unref_goes_to_the_reaper(void **state)
{
    (void)state;
    static struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "one.test", NULL);
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);

    /* no reaper: the caller frees */
    struct dp_config *a = build(&h);
    assert_false(dp_config_reaper_put(a));
    dp_config_destroy(a);

    assert_int_equal(dp_config_reaper_start(), GW_OK);
    for (int i = 0; i < 50; i++) {
        dp_config_publish(build(&h));
        struct dp_config *held = dp_config_acquire(); /* a worker's reference */
        dp_config_publish(NULL);                      /* replaced: the publisher lets go */
        assert_int_equal(atomic_load(&held->refs), 1);
        dp_config_unref(held); /* the last reference: queued, not freed here */
    }
    /* frees what is still queued; LeakSanitizer fails this test if any config was lost */
    dp_config_reaper_stop();

    struct dp_config *b = build(&h);
    assert_false(dp_config_reaper_put(b)); /* stopped: the caller frees again */
    dp_config_unref(b);
    cfgh_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(last_unref_goes_to_the_reaper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
