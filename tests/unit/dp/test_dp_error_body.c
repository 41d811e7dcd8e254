/* tests/unit/dp/test_dp_error_body.c: Kong's error-body negotiation (the Accept header picks
 * JSON, HTML, XML or plain text; first range with the highest q wins) and the four templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dp_error_body.h"

static enum dp_error_type pick(const char *accept)
{
    double q = 0;
    return dp_error_type_from_accept(accept, strlen(accept), DP_ERROR_JSON, &q);
}

static void exact_media_types(void **state)
{
    (void)state;
    assert_int_equal(pick("text/html"), DP_ERROR_HTML);
    assert_int_equal(pick("application/xml"), DP_ERROR_XML);
    assert_int_equal(pick("text/plain"), DP_ERROR_PLAIN);
    assert_int_equal(pick("application/json"), DP_ERROR_JSON);
    assert_int_equal(pick("  TEXT/HTML  "), DP_ERROR_HTML); /* case and blanks */
    assert_int_equal(pick("text/csv"), DP_ERROR_JSON);      /* unknown: the default */
    assert_int_equal(pick("image/png"), DP_ERROR_JSON);
}

static void wildcards(void **state)
{
    (void)state;
    assert_int_equal(pick("*/*"), DP_ERROR_JSON);
    assert_int_equal(pick("text/*"), DP_ERROR_PLAIN);
    assert_int_equal(pick("application/*"), DP_ERROR_JSON);
    assert_int_equal(pick("image/*"), DP_ERROR_JSON);
}

static void quality_decides_and_first_wins_ties(void **state)
{
    (void)state;
    /* a browser */
    assert_int_equal(pick("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                     DP_ERROR_HTML);
    assert_int_equal(pick("application/xml;q=0.5, text/plain;q=0.9"), DP_ERROR_PLAIN);
    assert_int_equal(pick("text/plain;q=0.9, application/xml;q=0.5"), DP_ERROR_PLAIN);
    /* equal q: the first range stays (Kong compares with >) */
    assert_int_equal(pick("image/png, text/html"), DP_ERROR_JSON);
    assert_int_equal(pick("text/html, application/xml"), DP_ERROR_HTML);
    /* q=0 means "not acceptable": never chosen */
    assert_int_equal(pick("text/html;q=0"), DP_ERROR_JSON);
    assert_int_equal(pick("text/html;q=0, text/plain;q=0.001"), DP_ERROR_PLAIN);
    /* other parameters before or after q */
    assert_int_equal(pick("application/json;q=0.2, text/html;level=1;q=0.3"), DP_ERROR_HTML);
    assert_int_equal(pick("application/json;q=0.2, text/html ; q=0.3 ; level=1"), DP_ERROR_HTML);
    assert_int_equal(pick("text/plain;charset=utf-8"), DP_ERROR_PLAIN);
    assert_int_equal(pick("application/json;Q=0.1, application/xml;q=1.000"), DP_ERROR_XML);
}

static void malformed_ranges_are_skipped(void **state)
{
    (void)state;
    assert_int_equal(pick(""), DP_ERROR_JSON);
    assert_int_equal(pick(",,,"), DP_ERROR_JSON);
    assert_int_equal(pick("html"), DP_ERROR_JSON);
    assert_int_equal(pick("/html, text/html"), DP_ERROR_HTML);
    assert_int_equal(pick("t/html, application/xml"), DP_ERROR_XML); /* names are 2+ chars */
    assert_int_equal(pick("text/"), DP_ERROR_JSON);
    /* a q outside Kong's pattern is read as a plain parameter: q stays 1 */
    assert_int_equal(pick("application/xml;q=2, text/html;q=0.9"), DP_ERROR_XML);
    /* "q=1.5" reads as q=1 ("1." then garbage), "q=0.25x" as 0.25 */
    assert_int_equal(pick("text/plain;q=0.25x, text/html;q=0.2"), DP_ERROR_PLAIN);
}

static void several_headers_form_one_list(void **state)
{
    (void)state;
    double q = 0;
    enum dp_error_type t = DP_ERROR_JSON;
    t = dp_error_type_from_accept("text/plain;q=0.5", 16, t, &q);
    t = dp_error_type_from_accept("text/html;q=0.4", 15, t, &q);
    assert_int_equal(t, DP_ERROR_PLAIN);
    t = dp_error_type_from_accept("application/xml", 15, t, &q);
    assert_int_equal(t, DP_ERROR_XML);
    assert_true(q > 0.99);
}

static void templates(void **state)
{
    (void)state;
    const char *want[] = {
        [DP_ERROR_JSON] = "{\"message\":\"no Route matched with those values\","
                          "\"request_id\":\"abc\"}",
        [DP_ERROR_HTML] = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n"
                          "    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n"
                          "    <p>no Route matched with those values.</p>\n"
                          "    <p>request_id: abc</p>\n  </body>\n</html>\n",
        [DP_ERROR_XML] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n"
                         "  <message>no Route matched with those values</message>\n"
                         "  <requestid>abc</requestid>\n</error>\n",
        [DP_ERROR_PLAIN] = "no Route matched with those values\nrequest_id: abc\n",
    };
    const char *ctype[] = {
        [DP_ERROR_JSON] = "application/json; charset=utf-8",
        [DP_ERROR_HTML] = "text/html; charset=utf-8",
        [DP_ERROR_XML] = "application/xml; charset=utf-8",
        [DP_ERROR_PLAIN] = "text/plain; charset=utf-8",
    };
    for (int t = DP_ERROR_JSON; t <= DP_ERROR_PLAIN; t++) {
        struct gw_buf b;
        gw_buf_init(&b, 4096);
        assert_int_equal(
            dp_error_body(&b, (enum dp_error_type)t, "no Route matched with those values", "abc"),
            GW_OK);
        assert_string_equal(b.data, want[t]);
        assert_string_equal(dp_error_content_type((enum dp_error_type)t), ctype[t]);
        gw_buf_cleanup(&b);
    }
}

static void body_respects_the_buffer_limit(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 16);
    assert_int_not_equal(dp_error_body(&b, DP_ERROR_HTML, "x", "y"), GW_OK);
    gw_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_media_types),
        cmocka_unit_test(wildcards),
        cmocka_unit_test(quality_decides_and_first_wins_ties),
        cmocka_unit_test(malformed_ranges_are_skipped),
        cmocka_unit_test(several_headers_form_one_list),
        cmocka_unit_test(templates),
        cmocka_unit_test(body_respects_the_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
