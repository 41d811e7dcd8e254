/* tests/unit/dp/test_dp_lb.c: the four balancers over configs built from protobuf: exact
 * round-robin splits (10/10, 40/40/20), weight 0, no targets, unhealthy addresses, retries
 * avoiding failed addresses, consistent hashing stability, least-connections and latency, and
 * state carried over to a new config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/dp_lb.h"
#include "balancer/dp_lb_state.h"
#include "cfg_helpers.h"
#include "dp_config_internal.h"

static struct dp_config *build(struct cfgh *h)
{
    struct dp_config *cfg = NULL;
    assert_int_equal(dp_config_build(&h->cfg, 1, "h", NULL, NULL, &cfg), GW_OK);
    return cfg;
}

static int index_of(const struct dp_upstream *u, const struct dp_addr *a)
{
    for (size_t t = 0; t < u->ntargets; t++)
        if (a->target == &u->targets[t])
            return (int)t;
    return -1;
}

static void count_picks(struct dp_upstream *u, int n, int *counts)
{
    for (int i = 0; i < n; i++) {
        struct dp_lb_ctx ctx = {0};
        const struct dp_addr *a = NULL;
        assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_OK);
        counts[index_of(u, a)]++;
    }
}

static void rr_exact_splits(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "two.test", NULL);
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 100);
    cfgh_upstream(&h, "u2", "three.test", "round-robin");
    cfgh_target(&h, "t3", "u2", "127.0.0.1:9003", 10);
    cfgh_target(&h, "t4", "u2", "127.0.0.1:9004", 10);
    cfgh_target(&h, "t5", "u2", "127.0.0.1:9005", 5);
    struct dp_config *cfg = build(&h);
    int c2[2] = {0};
    count_picks(&cfg->upstreams[0], 20, c2);
    assert_int_equal(c2[0], 10);
    assert_int_equal(c2[1], 10);
    int c3[3] = {0};
    count_picks(&cfg->upstreams[1], 100, c3);
    assert_int_equal(c3[0], 40);
    assert_int_equal(c3[1], 40);
    assert_int_equal(c3[2], 20);
    dp_config_destroy(cfg);
    cfgh_free(&h);
}

static void rr_position_survives_a_new_config(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u-keep", "keep.test", NULL);
    cfgh_target(&h, "t1", "u-keep", "127.0.0.1:9001", 100);
    cfgh_target(&h, "t2", "u-keep", "127.0.0.1:9002", 100);
    struct dp_config *a = build(&h);
    struct dp_lb_ctx ctx = {0};
    const struct dp_addr *first = NULL, *second = NULL;
    assert_int_equal(dp_lb_pick(a->upstreams[0].lb, &ctx, &first), GW_OK);
    char first_key[80];
    snprintf(first_key, sizeof(first_key), "%s", first->key);
    struct dp_config *b = build(&h); /* same upstream id: shared state */
    dp_config_destroy(a);
    assert_int_equal(dp_lb_pick(b->upstreams[0].lb, &ctx, &second), GW_OK);
    assert_string_not_equal(first_key, second->key);
    dp_config_destroy(b);
    cfgh_free(&h);
    assert_int_equal(dp_lb_state_count(), 0); /* every reference released */
}

static void weight_zero_and_no_targets(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "zero.test", NULL);
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 0);
    cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 100);
    cfgh_upstream(&h, "u2", "allzero.test", NULL);
    cfgh_target(&h, "t3", "u2", "127.0.0.1:9003", 0);
    cfgh_upstream(&h, "u3", "empty.test", "least-connections");
    struct dp_config *cfg = build(&h);
    int c[2] = {0};
    count_picks(&cfg->upstreams[0], 10, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 10);
    struct dp_lb_ctx ctx = {0};
    const struct dp_addr *a;
    assert_int_equal(dp_lb_pick(cfg->upstreams[1].lb, &ctx, &a), GW_ERR_UNAVAILABLE);
    assert_int_equal(dp_lb_pick(cfg->upstreams[2].lb, &ctx, &a), GW_ERR_UNAVAILABLE);
    dp_config_destroy(cfg);
    cfgh_free(&h);
}

static void unhealthy_and_retries(void **state)
{
    (void)state;
    static const char *const algos[] = {"round-robin", "consistent-hashing", "least-connections",
                                        "latency"};
    for (size_t k = 0; k < 4; k++) {
        struct cfgh h;
        cfgh_init(&h);
        cfgh_upstream(&h, "u1", "h.test", algos[k]);
        cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);
        cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 100);
        struct dp_config *cfg = build(&h);
        struct dp_upstream *u = &cfg->upstreams[0];
        /* a retry never picks the address that failed */
        for (int i = 0; i < 10; i++) {
            struct dp_lb_ctx ctx = {0};
            const struct dp_addr *a, *b;
            assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_OK);
            dp_lb_ctx_failed(&ctx, a);
            assert_int_equal(dp_lb_pick(u->lb, &ctx, &b), GW_OK);
            assert_ptr_not_equal(a, b);
        }
        /* an unhealthy address is skipped; all down = no peer */
        dp_lb_state_set_healthy(u->addrs[0]->state, false);
        int c[2] = {0};
        count_picks(u, 10, c);
        assert_int_equal(c[index_of(u, u->addrs[0])], 0);
        dp_lb_state_set_healthy(u->addrs[1]->state, false);
        struct dp_lb_ctx ctx = {0};
        const struct dp_addr *a;
        assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_ERR_UNAVAILABLE);
        dp_config_destroy(cfg);
        cfgh_free(&h);
    }
}

static void consistent_hashing(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "ch.test", "consistent-hashing");
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 100);
    cfgh_target(&h, "t3", "u1", "127.0.0.1:9003", 100);
    struct dp_config *cfg = build(&h);
    struct dp_upstream *u = &cfg->upstreams[0];
    int c[3] = {0};
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "user-%d", i);
        const struct dp_addr *a1, *a2;
        struct dp_lb_ctx x = {.hash_value = key, .hash_len = strlen(key)};
        struct dp_lb_ctx y = {.hash_value = key, .hash_len = strlen(key)};
        assert_int_equal(dp_lb_pick(u->lb, &x, &a1), GW_OK);
        assert_int_equal(dp_lb_pick(u->lb, &y, &a2), GW_OK);
        assert_ptr_equal(a1, a2); /* same value, same target */
        c[index_of(u, a1)]++;
    }
    for (int t = 0; t < 3; t++)
        assert_in_range(c[t], 600, 1400); /* spread over every target */
    /* removing a target moves only its own keys */
    struct cfgh h2;
    cfgh_init(&h2);
    cfgh_upstream(&h2, "u1", "ch.test", "consistent-hashing");
    cfgh_target(&h2, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(&h2, "t2", "u1", "127.0.0.1:9002", 100);
    struct dp_config *cfg2 = build(&h2);
    int moved = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "user-%d", i);
        const struct dp_addr *a1, *a2;
        struct dp_lb_ctx x = {.hash_value = key, .hash_len = strlen(key)};
        struct dp_lb_ctx y = {.hash_value = key, .hash_len = strlen(key)};
        dp_lb_pick(u->lb, &x, &a1);
        dp_lb_pick(cfg2->upstreams[0].lb, &y, &a2);
        if (strcmp(a1->key, a2->key) != 0) {
            assert_string_equal(a1->key, "127.0.0.1:9003");
            moved++;
        }
    }
    assert_int_equal(moved, c[2]);
    dp_config_destroy(cfg);
    dp_config_destroy(cfg2);
    cfgh_free(&h);
    cfgh_free(&h2);
}

static void least_connections_weighted(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "lc.test", "least-connections");
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 200);
    struct dp_config *cfg = build(&h);
    struct dp_upstream *u = &cfg->upstreams[0];
    /* picks that stay in flight: the heavier target carries twice as many */
    int c[2] = {0};
    for (int i = 0; i < 30; i++) {
        struct dp_lb_ctx ctx = {0};
        const struct dp_addr *a;
        assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_OK);
        atomic_fetch_add(&a->state->active, 1);
        c[index_of(u, a)]++;
    }
    assert_int_equal(c[0], 10);
    assert_int_equal(c[1], 20);
    for (size_t i = 0; i < u->naddrs; i++)
        atomic_store(&u->addrs[i]->state->active, 0);
    dp_config_destroy(cfg);
    cfgh_free(&h);
}

static void latency_prefers_fast(void **state)
{
    (void)state;
    struct cfgh h;
    cfgh_init(&h);
    cfgh_upstream(&h, "u1", "lat.test", "latency");
    cfgh_target(&h, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(&h, "t2", "u1", "127.0.0.1:9002", 100);
    struct dp_config *cfg = build(&h);
    struct dp_upstream *u = &cfg->upstreams[0];
    dp_lb_state_ewma_update(u->addrs[0]->state, 0.200, 1000000);
    dp_lb_state_ewma_update(u->addrs[1]->state, 0.010, 1000000);
    int c[2] = {0};
    count_picks(u, 10, c);
    assert_int_equal(c[index_of(u, u->addrs[1])], 10);
    /* the fast one slows down: traffic moves */
    dp_lb_state_ewma_update(u->addrs[1]->state, 5.0, 100000000);
    int d[2] = {0};
    count_picks(u, 10, d);
    assert_int_equal(d[index_of(u, u->addrs[0])], 10);
    dp_config_destroy(cfg);
    cfgh_free(&h);
}

static void xxhash32_vectors(void **state)
{
    (void)state;
    /* reference values of XXH32 with seed 0 */
    assert_int_equal(dp_lb_xxhash32("", 0, 0), 0x02CC5D05u);
    assert_int_equal(dp_lb_xxhash32("a", 1, 0), 0x550D7456u);
    assert_int_equal(dp_lb_xxhash32("abc", 3, 0), 0x32D153FFu);
    assert_int_equal(dp_lb_xxhash32("Nobody inspects the spammish repetition", 39, 0), 0xE2293B2Fu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rr_exact_splits),
        cmocka_unit_test(rr_position_survives_a_new_config),
        cmocka_unit_test(weight_zero_and_no_targets),
        cmocka_unit_test(unhealthy_and_retries),
        cmocka_unit_test(consistent_hashing),
        cmocka_unit_test(least_connections_weighted),
        cmocka_unit_test(latency_prefers_fast),
        cmocka_unit_test(xxhash32_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
