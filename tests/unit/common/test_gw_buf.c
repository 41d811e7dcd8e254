/* tests/unit/common/test_gw_buf.c: bounded buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gw_buf.h"

static void append_and_format(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    assert_int_equal(gw_buf_append_str(&b, "hello"), GW_OK);
    assert_int_equal(gw_buf_appendf(&b, " %d-%s", 42, "x"), GW_OK);
    assert_string_equal(b.data, "hello 42-x");
    assert_int_equal(b.len, 10);
    gw_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    gw_buf_cleanup(&b);
    assert_null(b.data);
}

static void limit_is_enforced_and_buffer_unchanged(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 8);
    assert_int_equal(gw_buf_append(&b, "12345678", 8), GW_OK);
    assert_int_equal(gw_buf_append(&b, "9", 1), GW_ERR_TOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(gw_buf_appendf(&b, "%s", "x"), GW_ERR_TOOBIG);
    assert_int_equal(b.len, 8);
    gw_buf_reset(&b);
    assert_int_equal(gw_buf_appendf(&b, "%s", "123456789"), GW_ERR_TOOBIG);
    assert_int_equal(b.len, 0);
    gw_buf_cleanup(&b);
}

static void huge_reserve_overflow(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    assert_int_equal(gw_buf_append(&b, "a", 1), GW_OK);
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX), GW_ERR_TOOBIG);
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX - 1), GW_ERR_TOOBIG);
    gw_buf_cleanup(&b);
}

static void grows_across_many_appends(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(gw_buf_append(&b, "abcdefgh", 8), GW_OK);
    assert_int_equal(b.len, 80000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    char *s = gw_buf_steal(&b);
    assert_non_null(s);
    assert_int_equal(strlen(s), 80000);
    assert_null(b.data);
    free(s);
    char *e = gw_buf_steal(&b);
    assert_string_equal(e, "");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_and_format),
        cmocka_unit_test(limit_is_enforced_and_buffer_unchanged),
        cmocka_unit_test(huge_reserve_overflow),
        cmocka_unit_test(grows_across_many_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
