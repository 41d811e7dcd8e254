/* tests/unit/common/test_gw_uuid.c: UUID v4, v5 and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw_uuid.h"

static void v4_is_valid_and_unique(void **state)
{
    (void)state;
    char a[GW_UUID_STRLEN + 1], b[GW_UUID_STRLEN + 1];
    assert_int_equal(gw_uuid_v4(a), GW_OK);
    assert_int_equal(gw_uuid_v4(b), GW_OK);
    assert_true(gw_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
}

static void v5_matches_rfc_example(void **state)
{
    (void)state;
    /* RFC 4122 DNS namespace, name "www.example.com" (well-known v5 value). */
    char out[GW_UUID_STRLEN + 1];
    assert_int_equal(gw_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com", 15, out),
                     GW_OK);
    assert_string_equal(out, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    assert_int_equal(gw_uuid_v5("not-a-uuid", "x", 1, out), GW_ERR_INVALID);
}

static void parse_rejects_bad_forms(void **state)
{
    (void)state;
    assert_true(gw_uuid_valid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"));
    assert_false(gw_uuid_valid(""));
    assert_false(gw_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
    assert_false(gw_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c8x"));
    assert_false(gw_uuid_valid("6ba7b8109dad-11d1-80b4-00c04fd430c8-"));
    assert_false(gw_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430cg"));
    assert_false(gw_uuid_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v4_is_valid_and_unique),
        cmocka_unit_test(v5_matches_rfc_example),
        cmocka_unit_test(parse_rejects_bad_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
