/* tests/unit/cp/test_cp_gui.c: Portico Manager's runtime configuration script, the API origin
 * used in its Content-Security-Policy, the CORS origin decisions, and the embedded files table.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cp_conf.h"
#include "cp_gui.h"
#include "cp_gui_assets.h"
#include "cp_gui_cors.h"

static void config_js(void **state)
{
    (void)state;
    char out[1024];
    assert_int_equal(cp_gui_config_js("", 8001, 0, 0, out, sizeof(out)), GW_OK);
    assert_non_null(strstr(out, "window.PORTICO_CONFIG = {\"apiUrl\": \"\", \"apiPort\": 8001, "
                                "\"apiScheme\": \"http\", \"tokenRequired\": false"));
    assert_int_equal(cp_gui_config_js("https://api.example.com:9001", 0, 1, 1, out, sizeof(out)),
                     GW_OK);
    assert_non_null(strstr(out, "\"apiUrl\": \"https://api.example.com:9001\""));
    assert_non_null(strstr(out, "\"apiScheme\": \"https\", \"tokenRequired\": true"));
    /* Anything that could break out of the string literal is refused. */
    assert_int_equal(cp_gui_config_js("http://x\"};alert(1)//", 1, 0, 0, out, sizeof(out)),
                     GW_ERR_INVALID);
    assert_int_equal(cp_gui_config_js("http://x</script>", 1, 0, 0, out, sizeof(out)),
                     GW_ERR_INVALID);
    assert_int_equal(cp_gui_config_js("javascript:alert(1)", 1, 0, 0, out, sizeof(out)),
                     GW_ERR_INVALID);
    assert_int_equal(cp_gui_config_js("http://", 1, 0, 0, out, sizeof(out)), GW_ERR_INVALID);
    assert_int_equal(cp_gui_config_js("http://user@host", 1, 0, 0, out, sizeof(out)),
                     GW_ERR_INVALID);
    assert_int_equal(cp_gui_config_js("", 8001, 0, 0, out, 20), GW_ERR_TOOBIG);
}

static void api_origin(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(cp_gui_api_origin("", "127.0.0.1:8002", 8001, 0, out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://127.0.0.1:8001");
    assert_int_equal(cp_gui_api_origin(NULL, "[::1]:8002", 8444, 1, out, sizeof(out)), GW_OK);
    assert_string_equal(out, "https://[::1]:8444");
    assert_int_equal(cp_gui_api_origin("", "gw.example", 8001, 0, out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://gw.example:8001");
    assert_int_equal(
        cp_gui_api_origin("https://api.example.com/base/", "x:1", 8001, 0, out, sizeof(out)),
        GW_OK);
    assert_string_equal(out, "https://api.example.com");
    assert_int_equal(cp_gui_api_origin("", NULL, 8001, 0, out, sizeof(out)), GW_ERR_INVALID);
    assert_int_equal(cp_gui_api_origin("", "evil.com; script-src *", 8001, 0, out, sizeof(out)),
                     GW_ERR_INVALID);
    assert_int_equal(cp_gui_api_origin("", "a.b:8002", 0, 0, out, sizeof(out)), GW_ERR_INVALID);
}

static struct cp_gui_cors *make_cors(const char *gui_url, const char *gui_listen)
{
    static char e1[256], e2[256];
    snprintf(e1, sizeof(e1), "PORTICO_ADMIN_GUI_URL=%s", gui_url);
    snprintf(e2, sizeof(e2), "PORTICO_ADMIN_GUI_LISTEN=%s", gui_listen);
    char *env[] = {e1, e2, NULL};
    struct gw_conf conf = {0};
    char err[256];
    assert_int_equal(gw_conf_load(&conf, cp_conf_keys, cp_conf_nkeys, NULL, env, err, sizeof(err)),
                     GW_OK);
    struct cp_gui_cors *c = cp_gui_cors_create(&conf);
    gw_conf_cleanup(&conf);
    return c;
}

static void cors_default_allows_only_the_manager(void **state)
{
    (void)state;
    struct cp_gui_cors *c = make_cors("", "127.0.0.1:8002, 0.0.0.0:9002");
    assert_non_null(c);
    char out[256];
    /* No Origin (curl): "*" like Kong. */
    assert_int_equal(cp_gui_cors_origin(c, NULL, "127.0.0.1:8001", out, sizeof(out)), GW_OK);
    assert_string_equal(out, "*");
    /* The Manager, reached at the same host as the API, on one of its ports. */
    assert_int_equal(
        cp_gui_cors_origin(c, "http://127.0.0.1:8002", "127.0.0.1:8001", out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://127.0.0.1:8002");
    assert_int_equal(
        cp_gui_cors_origin(c, "http://GW.example:9002", "gw.example:8001", out, sizeof(out)),
        GW_OK);
    assert_int_equal(cp_gui_cors_origin(c, "http://[::1]:8002", "[::1]:8001", out, sizeof(out)),
                     GW_OK);
    /* Other sites, other ports, other hosts, malformed origins. */
    assert_int_equal(
        cp_gui_cors_origin(c, "http://evil.example", "127.0.0.1:8001", out, sizeof(out)),
        GW_ERR_DECLINED);
    assert_int_equal(
        cp_gui_cors_origin(c, "http://evil.example:8002", "127.0.0.1:8001", out, sizeof(out)),
        GW_ERR_DECLINED);
    assert_int_equal(
        cp_gui_cors_origin(c, "http://127.0.0.1:8003", "127.0.0.1:8001", out, sizeof(out)),
        GW_ERR_DECLINED);
    assert_int_equal(cp_gui_cors_origin(c, "null", "127.0.0.1:8001", out, sizeof(out)),
                     GW_ERR_DECLINED);
    assert_int_equal(
        cp_gui_cors_origin(c, "http://127.0.0.1:8002/x", "127.0.0.1:8001", out, sizeof(out)),
        GW_ERR_DECLINED);
    assert_int_equal(cp_gui_cors_origin(c, "http://127.0.0.1:8002", NULL, out, sizeof(out)),
                     GW_ERR_DECLINED);
    cp_gui_cors_destroy(c);
}

static void cors_admin_gui_url(void **state)
{
    (void)state;
    struct cp_gui_cors *c = make_cors("http://admin.api:9100/path/to/any/way", "127.0.0.1:8002");
    assert_non_null(c);
    char out[256];
    /* Kong's spec: the configured origin whatever the request says. */
    assert_int_equal(cp_gui_cors_origin(c, NULL, "x", out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://admin.api:9100");
    assert_int_equal(cp_gui_cors_origin(c, "http://admin.api:9100", "x", out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://admin.api:9100");
    assert_int_equal(cp_gui_cors_origin(c, "http://example.com", "x", out, sizeof(out)), GW_OK);
    assert_string_equal(out, "http://admin.api:9100"); /* the browser refuses the mismatch */
    cp_gui_cors_destroy(c);
    assert_null(make_cors("ftp://nope", "127.0.0.1:8002"));
    cp_gui_cors_destroy(NULL);
}

static void assets_table(void **state)
{
    (void)state;
    const char *need[] = {"/index.html", "/app.css", "/js/app.js", "/js/api.js", "/js/ui.js"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        const struct cp_gui_asset *found = NULL;
        for (size_t j = 0; j < cp_gui_nassets; j++) {
            if (strcmp(cp_gui_assets[j].path, need[i]) == 0)
                found = &cp_gui_assets[j];
        }
        assert_non_null(found);
        assert_true(found->len > 0);
        assert_int_equal(found->data[found->len], 0);
        assert_int_equal(strlen(found->etag), 34); /* quoted 32 hex digits */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_js),
        cmocka_unit_test(api_origin),
        cmocka_unit_test(cors_default_allows_only_the_manager),
        cmocka_unit_test(cors_admin_gui_url),
        cmocka_unit_test(assets_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
