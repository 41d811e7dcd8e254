/* tests/unit/cp/test_cp_cluster_version.c: the Hello version rule.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cluster/cp_cluster_version.h"

static void rules(void **state)
{
    (void)state;
    char r[256];
    assert_true(cp_cluster_version_compatible("1.4.2", "1.4.2", r, sizeof(r)));
    assert_string_equal(r, "");
    assert_true(cp_cluster_version_compatible("1.4.2", "1.4.9", r, sizeof(r))); /* patch free */
    assert_true(cp_cluster_version_compatible("1.4.0", "1.0.0", r, sizeof(r))); /* older minor */
    assert_true(cp_cluster_version_compatible("1.4.0", "1.3.0-rc1", r, sizeof(r)));
    assert_true(cp_cluster_version_compatible("0.1.0", "0.1", r, sizeof(r)));

    assert_false(cp_cluster_version_compatible("1.4.0", "1.5.0", r, sizeof(r)));
    assert_non_null(strstr(r, "newer"));
    assert_false(cp_cluster_version_compatible("1.4.0", "2.0.0", r, sizeof(r)));
    assert_non_null(strstr(r, "major"));
    assert_false(cp_cluster_version_compatible("2.0.0", "1.9.0", r, sizeof(r)));
    assert_non_null(strstr(r, "major"));
    assert_false(cp_cluster_version_compatible("1.4.0", NULL, r, sizeof(r)));
    assert_false(cp_cluster_version_compatible("1.4.0", "", r, sizeof(r)));
    assert_false(cp_cluster_version_compatible("1.4.0", "v1.4", r, sizeof(r)));
    assert_false(cp_cluster_version_compatible("1.4.0", "1.x", r, sizeof(r)));
    assert_false(cp_cluster_version_compatible("1.4.0", "1.4junk", r, sizeof(r)));
    assert_false(cp_cluster_version_compatible("1.4.0", "99999999999999999999.1", r, sizeof(r)));
    /* a tiny reason buffer is still terminated */
    char tiny[4];
    assert_false(cp_cluster_version_compatible("1.4.0", "3.0.0", tiny, sizeof(tiny)));
    assert_int_equal(strlen(tiny), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(rules)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
