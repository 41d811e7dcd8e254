/* tests/unit/dp/test_dp_http.c: the HTTP building blocks: header blocks and their limits,
 * Connection token lookup, chunk framing, printf-free appenders, trusted address ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dp_http.h"
#include "dp_settings.h"
#include "dp_wbuf.h"

static void hblock_collects_headers_split_across_reads(void **state)
{
    (void)state;
    struct dp_hblock b;
    dp_hblock_init(&b, 1024);
    assert_int_equal(dp_hblock_add(&b, "Conn", 4, false), GW_OK);
    assert_int_equal(dp_hblock_add(&b, "ection", 6, false), GW_OK);
    assert_int_equal(dp_hblock_add(&b, "keep-alive, ", 12, true), GW_OK);
    assert_int_equal(dp_hblock_add(&b, "X-Custom", 8, true), GW_OK);
    assert_int_equal(dp_hblock_add(&b, "Host", 4, false), GW_OK);
    assert_int_equal(dp_hblock_add(&b, "a.test", 6, true), GW_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(dp_hblock_find(&b, "connection", 10, 0), 0);
    assert_int_equal(dp_hblock_find(&b, "host", 4, 0), 1);
    assert_int_equal(dp_hblock_find(&b, "host", 4, 2), -1);
    assert_int_equal(b.h[0].vl, 20);
    assert_true(dp_hblock_has_token(&b, 0, "x-custom"));
    assert_true(dp_hblock_has_token(&b, 0, "KEEP-ALIVE"));
    assert_false(dp_hblock_has_token(&b, 0, "keep"));
    dp_hblock_cleanup(&b);
}

static void hblock_limit_is_enforced(void **state)
{
    (void)state;
    struct dp_hblock b;
    dp_hblock_init(&b, 32);
    assert_int_equal(dp_hblock_add(&b, "X-A", 3, false), GW_OK);
    char big[40];
    memset(big, 'v', sizeof(big));
    assert_int_equal(dp_hblock_add(&b, big, 29, true), GW_OK); /* 32 bytes: at the limit */
    assert_int_equal(dp_hblock_add(&b, "X", 1, false), GW_ERR_TOOBIG);
    dp_hblock_reset(&b, 1024);
    assert_int_equal(b.n, 0);
    assert_int_equal(dp_hblock_add(&b, big, sizeof(big), false), GW_OK);
    /* a value before any name is refused */
    struct dp_hblock c;
    dp_hblock_init(&c, 64);
    assert_int_equal(dp_hblock_add(&c, "v", 1, true), GW_ERR_INVALID);
    dp_hblock_cleanup(&b);
    dp_hblock_cleanup(&c);
}

static void too_many_headers_is_toobig(void **state)
{
    (void)state;
    struct dp_hblock b;
    dp_hblock_init(&b, 1 << 20);
    enum gw_err err = GW_OK;
    int i;
    for (i = 0; i < 5000 && err == GW_OK; i++) {
        err = dp_hblock_add(&b, "X", 1, false);
        if (err == GW_OK)
            err = dp_hblock_add(&b, "v", 1, true);
    }
    assert_int_equal(err, GW_ERR_TOOBIG);
    assert_int_equal(b.n, 1024);
    dp_hblock_cleanup(&b);
}

static void chunk_heads_and_numbers(void **state)
{
    (void)state;
    char out[24];
    size_t n = dp_wb_chunk_head(out, 0);
    assert_memory_equal(out, "0\r\n", n);
    n = dp_wb_chunk_head(out, 255);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "ff\r\n", n);
    n = dp_wb_chunk_head(out, 0x10000);
    assert_memory_equal(out, "10000\r\n", n);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    dp_wb_u64(&b, 0);
    DP_WB_LIT(&b, " ");
    dp_wb_u64(&b, 18446744073709551615ull);
    DP_WB_HDR(&b, " X: ", "v", 1);
    assert_string_equal(b.data, "0 18446744073709551615 X: v\r\n");
    gw_buf_cleanup(&b);
}

static void trusted_ranges(void **state)
{
    (void)state;
    struct dp_settings s;
    char err[128];
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        dp_settings_parse_trusted(&s, "10.0.0.0/8, 192.168.1.7,::1, unix:", err, sizeof(err)),
        GW_OK);
    assert_int_equal(s.ntrusted, 3);
    assert_true(dp_settings_is_trusted(&s, "10.200.3.4"));
    assert_false(dp_settings_is_trusted(&s, "11.0.0.1"));
    assert_true(dp_settings_is_trusted(&s, "192.168.1.7"));
    assert_false(dp_settings_is_trusted(&s, "192.168.1.8"));
    assert_true(dp_settings_is_trusted(&s, "::1"));
    assert_false(dp_settings_is_trusted(&s, "::2"));
    assert_int_equal(dp_settings_parse_trusted(&s, "0.0.0.0/0,::/0", err, sizeof(err)), GW_OK);
    assert_true(dp_settings_is_trusted(&s, "8.8.8.8"));
    assert_true(dp_settings_is_trusted(&s, "2001:db8::1"));
    assert_int_equal(dp_settings_parse_trusted(&s, "10.0.0.0/33", err, sizeof(err)),
                     GW_ERR_INVALID);
    assert_int_equal(dp_settings_parse_trusted(&s, "bogus", err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "trusted_ips"));
    assert_int_equal(dp_settings_parse_trusted(&s, "", err, sizeof(err)), GW_OK);
    assert_false(dp_settings_is_trusted(&s, "127.0.0.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hblock_collects_headers_split_across_reads),
        cmocka_unit_test(hblock_limit_is_enforced),
        cmocka_unit_test(too_many_headers_is_toobig),
        cmocka_unit_test(chunk_heads_and_numbers),
        cmocka_unit_test(trusted_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
