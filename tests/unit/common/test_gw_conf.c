/* tests/unit/common/test_gw_conf.c: configuration loader: defaults, files, environment, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_conf.h"

static const char *const modes[] = {"shared", "pki", NULL};
static const struct gw_conf_key keys[] = {
    {"admin_listen", GW_CONF_LISTEN, "127.0.0.1:8001", "admin"},
    {"pg_port", GW_CONF_INT, "5432", "port", 1, 65535},
    {"pg_password", GW_CONF_STR, "", "secret", 0, 0, NULL, GW_CONF_SECRET},
    {"pg_ssl", GW_CONF_BOOL, "off", "ssl"},
    {"cluster_mtls", GW_CONF_ENUM, "shared", "mode", 0, 0, modes},
    {"cluster_max_payload", GW_CONF_SIZE, "64m", "max", 1024, 1LL << 30},
    {"name", GW_CONF_STR, NULL, "name"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/portico-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void defaults_apply(void **state)
{
    (void)state;
    struct gw_conf c;
    char err[256];
    assert_int_equal(gw_conf_load(&c, keys, NKEYS, NULL, NULL, err, sizeof(err)), GW_OK);
    assert_int_equal(gw_conf_int(&c, "pg_port"), 5432);
    assert_false(gw_conf_bool(&c, "pg_ssl"));
    assert_int_equal(gw_conf_size(&c, "cluster_max_payload"), 64 * 1024 * 1024);
    assert_string_equal(gw_conf_str(&c, "cluster_mtls"), "shared");
    assert_string_equal(gw_conf_str(&c, "name"), "");
    gw_conf_cleanup(&c);
}

static void file_then_env_override(void **state)
{
    (void)state;
    char *path = write_tmp("# a comment\n\n  pg_port = 6543   # trailing\npg_ssl=on\n"
                           "name = a\\#b\ncluster_max_payload = 2k\n");
    char *env[] = {"PORTICO_PG_PORT=7000", "PORTICO_UNKNOWN_THING=1", "HOME=/root",
                   "PORTICO_CLUSTER_MTLS=pki", NULL};
    struct gw_conf c;
    char err[256];
    assert_int_equal(gw_conf_load(&c, keys, NKEYS, path, env, err, sizeof(err)), GW_OK);
    assert_int_equal(gw_conf_int(&c, "pg_port"), 7000);
    assert_true(gw_conf_bool(&c, "pg_ssl"));
    assert_string_equal(gw_conf_str(&c, "name"), "a#b");
    assert_string_equal(gw_conf_str(&c, "cluster_mtls"), "pki");
    assert_int_equal(gw_conf_size(&c, "cluster_max_payload"), 2048);
    gw_conf_cleanup(&c);
    unlink(path);
    free(path);
}

static void unknown_key_in_file_is_an_error(void **state)
{
    (void)state;
    char *path = write_tmp("pg_port = 1\nbogus_key = 2\n");
    struct gw_conf c;
    char err[256] = "";
    assert_int_equal(gw_conf_load(&c, keys, NKEYS, path, NULL, err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "bogus_key"));
    assert_non_null(strstr(err, ":2:"));
    assert_null(c.values);
    unlink(path);
    free(path);
}

static void bad_values_name_the_key(void **state)
{
    (void)state;
    struct {
        const char *env;
        const char *needle;
    } cases[] = {
        {"PORTICO_PG_PORT=abc", "pg_port"},
        {"PORTICO_PG_PORT=70000", "out of range"},
        {"PORTICO_PG_SSL=maybe", "pg_ssl"},
        {"PORTICO_CLUSTER_MTLS=none", "expected one of: shared, pki"},
        {"PORTICO_CLUSTER_MAX_PAYLOAD=12q", "cluster_max_payload"},
        {"PORTICO_CLUSTER_MAX_PAYLOAD=2g", "out of range"},
        {"PORTICO_ADMIN_LISTEN=localhost", "admin_listen"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *env[] = {(char *)cases[i].env, NULL};
        struct gw_conf c;
        char err[256] = "";
        assert_int_equal(gw_conf_load(&c, keys, NKEYS, NULL, env, err, sizeof(err)),
                         GW_ERR_INVALID);
        assert_non_null(strstr(err, cases[i].needle));
    }
}

static void missing_file_and_bad_lines(void **state)
{
    (void)state;
    struct gw_conf c;
    char err[256] = "";
    assert_int_equal(
        gw_conf_load(&c, keys, NKEYS, "/nonexistent/portico.conf", NULL, err, sizeof(err)),
        GW_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/portico.conf"));
    char *path = write_tmp("pg_port 5\n");
    assert_int_equal(gw_conf_load(&c, keys, NKEYS, path, NULL, err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "key = value"));
    unlink(path);
    free(path);
}

static void show_masks_secrets(void **state)
{
    (void)state;
    char *env[] = {"PORTICO_PG_PASSWORD=hunter2", NULL};
    struct gw_conf c;
    char err[256];
    assert_int_equal(gw_conf_load(&c, keys, NKEYS, NULL, env, err, sizeof(err)), GW_OK);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    gw_conf_show(&c, f);
    fclose(f);
    assert_null(strstr(out, "hunter2"));
    assert_non_null(strstr(out, "pg_password = ******"));
    assert_non_null(strstr(out, "pg_port = 5432"));
    free(out);
    gw_conf_cleanup(&c);
}

static void size_parser(void **state)
{
    (void)state;
    long long v;
    assert_true(gw_conf_parse_size("10", &v));
    assert_int_equal(v, 10);
    assert_true(gw_conf_parse_size("4k", &v));
    assert_int_equal(v, 4096);
    assert_true(gw_conf_parse_size("1MB", &v));
    assert_int_equal(v, 1048576);
    assert_false(gw_conf_parse_size("-1", &v));
    assert_false(gw_conf_parse_size("", &v));
    assert_false(gw_conf_parse_size("1kk", &v));
    assert_false(gw_conf_parse_size("99999999999999g", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(file_then_env_override),
        cmocka_unit_test(unknown_key_in_file_is_an_error),
        cmocka_unit_test(bad_values_name_the_key),
        cmocka_unit_test(missing_file_and_bad_lines),
        cmocka_unit_test(show_masks_secrets),
        cmocka_unit_test(size_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
