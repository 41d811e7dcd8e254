/* tests/unit/common/test_gw_log.c: log line format, levels, laziness, errno, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_log.h"

static char path[] = "/tmp/portico-log-XXXXXX";

static char *slurp(void)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(path);
    close(fd);
    gw_log_init("test", GW_LOG_INFO);
    return gw_log_open(path);
}

static int teardown(void **state)
{
    (void)state;
    gw_log_open(NULL);
    unlink(path);
    return 0;
}

static int evaluated;
static int side_effect(void)
{
    evaluated++;
    return 1;
}

static void line_format_and_levels(void **state)
{
    (void)state;
    GW_LOG(GW_LOG_NOTICE, "hello key=%d", 7);
    GW_LOG(GW_LOG_DEBUG, "hidden %d", side_effect());
    assert_int_equal(evaluated, 0); /* lazy: arguments not evaluated below threshold */
    char *s = slurp();
    assert_non_null(strstr(s, " level=notice comp=test hello key=7\n"));
    assert_true(strncmp(s, "ts=", 3) == 0);
    assert_null(strstr(s, "hidden"));
}

static void errno_and_escaping(void **state)
{
    (void)state;
    GW_LOG_ERRNO(GW_LOG_ERROR, ENOENT, "open failed path=%s", "a\nb");
    char *s = slurp();
    assert_non_null(
        strstr(s, "open failed path=a\\nb errno=2 error=\"No such file or directory\""));
    /* exactly one newline per event */
    int lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
}

static void level_parse(void **state)
{
    (void)state;
    enum gw_log_level l;
    assert_true(gw_log_level_parse("warn", &l));
    assert_int_equal(l, GW_LOG_WARN);
    assert_true(gw_log_level_parse("DEBUG", &l));
    assert_int_equal(l, GW_LOG_DEBUG);
    assert_false(gw_log_level_parse("loud", &l));
    assert_string_equal(gw_log_level_name(GW_LOG_CRIT), "crit");
}

static void reopen_follows_rename(void **state)
{
    (void)state;
    char moved[64];
    snprintf(moved, sizeof(moved), "%s.1", path);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(gw_log_reopen(), 0);
    GW_LOG(GW_LOG_WARN, "after reopen");
    char *s = slurp();
    assert_non_null(strstr(s, "after reopen"));
    assert_null(strstr(s, "hello"));
    unlink(moved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_format_and_levels),
        cmocka_unit_test(errno_and_escaping),
        cmocka_unit_test(level_parse),
        cmocka_unit_test(reopen_follows_rename),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
