/* tests/unit/common/test_gw_listen.c: listen address lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw_listen.h"

static void parses_kong_style_lists(void **state)
{
    (void)state;
    struct gw_listen l[GW_LISTEN_MAX];
    size_t n;
    char err[128];
    assert_int_equal(gw_listen_parse("0.0.0.0:8000, 0.0.0.0:8443 ssl, [::1]:9000 reuseport", l, &n,
                                     err, sizeof(err)),
                     GW_OK);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].host, "0.0.0.0");
    assert_int_equal(l[0].port, 8000);
    assert_false(l[0].ssl);
    assert_true(l[1].ssl);
    assert_string_equal(l[2].host, "::1");
    assert_int_equal(l[2].port, 9000);
    assert_true(l[2].reuseport);
    assert_int_equal(gw_listen_parse("off", l, &n, err, sizeof(err)), GW_OK);
    assert_int_equal(n, 0);
}

static void rejects_bad_entries(void **state)
{
    (void)state;
    struct gw_listen l[GW_LISTEN_MAX];
    size_t n;
    char err[128];
    assert_int_equal(gw_listen_parse("127.0.0.1", l, &n, err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "host:port"));
    assert_int_equal(gw_listen_parse("127.0.0.1:99999", l, &n, err, sizeof(err)), GW_ERR_INVALID);
    assert_int_equal(gw_listen_parse("127.0.0.1:80 tls", l, &n, err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "tls"));
    assert_int_equal(gw_listen_parse("[::1:80", l, &n, err, sizeof(err)), GW_ERR_INVALID);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_kong_style_lists),
        cmocka_unit_test(rejects_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
