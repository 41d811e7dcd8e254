/* tests/unit/dp/test_dp_cluster_backoff.c: reconnect backoff (1 s doubling to 30 s, jitter) and
 * the persistent node id.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/dp_cluster_backoff.h"
#include "cluster/dp_cluster_nodeid.h"

static void doubles_to_cap_with_jitter(void **state)
{
    (void)state;
    /* without jitter influence (rnd picks the middle) the sequence doubles */
    uint32_t mid[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (unsigned a = 0; a < 7; a++) {
        uint32_t base = mid[a];
        uint32_t lo = dp_cluster_backoff_ms(a, 0);
        uint32_t hi = dp_cluster_backoff_ms(a, base / 2);
        assert_int_equal(lo, base - base / 4);
        assert_true(hi <= 30000);
        if (base < 30000)
            assert_int_equal(hi, base + base / 4);
    }
    /* every value stays in range, even for huge attempts and any random value */
    uint32_t seen_min = UINT32_MAX, seen_max = 0;
    for (unsigned a = 0; a < 100; a++)
        for (uint32_t r = 0; r < 2000; r += 7) {
            uint32_t d = dp_cluster_backoff_ms(a, r * 2654435761u);
            assert_true(d >= 750 && d <= 30000);
            if (a == 10) {
                seen_min = d < seen_min ? d : seen_min;
                seen_max = d > seen_max ? d : seen_max;
            }
        }
    assert_true(seen_min >= 22500);
    assert_true(seen_max == 30000);
    assert_true(seen_min < seen_max); /* jitter spreads the delays */
    assert_int_equal(dp_cluster_backoff_ms(UINT32_MAX, UINT32_MAX) <= 30000, 1);
}

static void node_id_is_kept(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-nodeid-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[GW_UUID_STRLEN + 1], b[GW_UUID_STRLEN + 1];
    assert_int_equal(dp_cluster_node_id(dir, a), GW_OK);
    assert_true(gw_uuid_valid(a));
    assert_int_equal(dp_cluster_node_id(dir, b), GW_OK);
    assert_string_equal(a, b);
    char path[256];
    snprintf(path, sizeof(path), "%s/node.id", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(dp_cluster_node_id(dir, b), GW_ERR_INVALID);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_to_cap_with_jitter),
        cmocka_unit_test(node_id_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
