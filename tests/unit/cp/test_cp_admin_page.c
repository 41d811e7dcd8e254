/* tests/unit/cp/test_cp_admin_page.c: pagination tokens (base64 of a JSON key array, Kong's
 * format), page size and tag filter parsing with Kong's messages.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/cp_admin_page.h"

static void test_base64(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = cp_admin_base64_encode((const unsigned char *)cases[i][0], strlen(cases[i][0]));
        assert_string_equal(e, cases[i][1]);
        free(e);
        size_t n = 0;
        unsigned char *d = cp_admin_base64_decode(cases[i][1], &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(cases[i][0]));
        assert_memory_equal(d, cases[i][0], n);
        free(d);
    }
    size_t n;
    unsigned char *d = cp_admin_base64_decode("Zm9vYg==", &n);
    assert_non_null(d);
    assert_string_equal((char *)d, "foob");
    free(d);
    assert_null(cp_admin_base64_decode("Zm9v!", &n));
    assert_null(cp_admin_base64_decode("Z", &n));
}

static void test_offset_roundtrip(void **state)
{
    (void)state;
    json_t *key = json_pack("[s]", "0b5f6c2e-1b1a-4c1e-9d59-2f1c1e1b1a10");
    char *tok = cp_admin_offset_encode(key);
    assert_non_null(tok);
    assert_null(strchr(tok, '='));
    /* Kong: base64 of ["<id>"] */
    size_t n;
    unsigned char *raw = cp_admin_base64_decode(tok, &n);
    assert_string_equal((char *)raw, "[\"0b5f6c2e-1b1a-4c1e-9d59-2f1c1e1b1a10\"]");
    free(raw);
    json_t *back = NULL;
    char why[64];
    assert_int_equal(cp_admin_offset_decode(tok, 1, &back, why, sizeof(why)), GW_OK);
    assert_true(json_equal(back, key));
    json_decref(back);
    assert_int_equal(cp_admin_offset_decode(tok, 3, &back, why, sizeof(why)), GW_ERR_INVALID);
    assert_string_equal(why, "bad json encoding");
    free(tok);
    json_decref(key);

    assert_int_equal(cp_admin_offset_decode("!!", 1, &back, why, sizeof(why)), GW_ERR_INVALID);
    assert_string_equal(why, "bad base64 encoding");
    assert_int_equal(cp_admin_offset_decode("Zm9v", 1, &back, why, sizeof(why)), GW_ERR_INVALID);
    assert_string_equal(why, "bad json encoding");
}

static void test_size(void **state)
{
    (void)state;
    size_t s;
    char msg[128];
    assert_int_equal(cp_admin_page_size(NULL, &s, msg, sizeof(msg)), GW_OK);
    assert_int_equal(s, 100);
    assert_int_equal(cp_admin_page_size("7", &s, msg, sizeof(msg)), GW_OK);
    assert_int_equal(s, 7);
    assert_int_equal(cp_admin_page_size("1000", &s, msg, sizeof(msg)), GW_OK);
    assert_int_equal(cp_admin_page_size("abc", &s, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "size must be a number");
    assert_int_equal(cp_admin_page_size("", &s, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "size must be a number");
    assert_int_equal(cp_admin_page_size("1001", &s, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "size must be an integer between 1 and 1000");
    assert_int_equal(cp_admin_page_size("0", &s, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_int_equal(cp_admin_page_size("2.5", &s, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "size must be an integer between 1 and 1000");
}

static void test_tags(void **state)
{
    (void)state;
    json_t *t;
    bool any;
    char msg[128];
    assert_int_equal(cp_admin_page_tags("a,b", &t, &any, msg, sizeof(msg)), GW_OK);
    assert_false(any);
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_array_get(t, 1)), "b");
    json_decref(t);
    assert_int_equal(cp_admin_page_tags("a/b/c", &t, &any, msg, sizeof(msg)), GW_OK);
    assert_true(any);
    assert_int_equal(json_array_size(t), 3);
    json_decref(t);
    assert_int_equal(cp_admin_page_tags("solo", &t, &any, msg, sizeof(msg)), GW_OK);
    assert_int_equal(json_array_size(t), 1);
    json_decref(t);
    assert_int_equal(cp_admin_page_tags("", &t, &any, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "cannot be null");
    assert_int_equal(cp_admin_page_tags("a,b/c", &t, &any, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_int_equal(cp_admin_page_tags("a,,b", &t, &any, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_int_equal(cp_admin_page_tags("a,b,c,d,e,f", &t, &any, msg, sizeof(msg)), GW_ERR_INVALID);
    assert_string_equal(msg, "cannot query more than 5 tags");
    assert_int_equal(cp_admin_page_tags("a\x01", &t, &any, msg, sizeof(msg)), GW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_offset_roundtrip),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
