/* tests/unit/cp/test_cp_admin_body_hostile.c: regressions for hostile Admin API bodies found by
 * the reliability suite: NUL bytes in form bodies (raw and "%00") and in multipart part
 * headers, which used to truncate a value or a field name silently; form and multipart keys
 * that cannot build structure (too deep, malformed, crossing a scalar), which used to vanish
 * silently and now stay as literal (unknown) field names.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/cp_admin_body.h"

#define FORM  "application/x-www-form-urlencoded"
#define MULTI "multipart/form-data; boundary=x"

static enum gw_err decode(const char *ct, const char *body, size_t len, json_t **out)
{
    enum cp_admin_body_type t;
    *out = NULL;
    return cp_admin_body_decode(ct, body, len, out, &t);
}

static void test_form_nul(void **state)
{
    (void)state;
    json_t *o = NULL;
    /* "username=ab\0cd" used to be stored as "ab" */
    static const char raw_value[] = "username=ab\0cd";
    assert_int_equal(decode(FORM, raw_value, sizeof raw_value - 1, &o), GW_ERR_INVALID);
    assert_null(o);
    static const char raw_key[] = "user\0name=abcd";
    assert_int_equal(decode(FORM, raw_key, sizeof raw_key - 1, &o), GW_ERR_INVALID);
    assert_null(o);
    /* "%00" used to be kept as the literal text "%00" */
    const char *esc = "username=a%00b";
    assert_int_equal(decode(FORM, esc, strlen(esc), &o), GW_ERR_INVALID);
    assert_null(o);
    esc = "host=h&user%00name=a";
    assert_int_equal(decode(FORM, esc, strlen(esc), &o), GW_ERR_INVALID);
    /* other bad escapes still keep their raw text, and "%000" is not confused with a NUL at
     * the end of a short pair */
    const char *bad = "a=%zz&b=%4&c=%";
    assert_int_equal(decode(FORM, bad, strlen(bad), &o), GW_OK);
    assert_string_equal(json_string_value(json_object_get(o, "a")), "%zz");
    assert_string_equal(json_string_value(json_object_get(o, "b")), "%4");
    assert_string_equal(json_string_value(json_object_get(o, "c")), "%");
    json_decref(o);
    const char *ok = "a=%30%300";
    assert_int_equal(decode(FORM, ok, strlen(ok), &o), GW_OK);
    assert_string_equal(json_string_value(json_object_get(o, "a")), "000");
    json_decref(o);
}

static void test_multipart_nul(void **state)
{
    (void)state;
    json_t *o = NULL;
    /* a NUL in the part's name used to cut it to "username" and accept the part */
    static const char name_nul[] = "--x\r\nContent-Disposition: form-data; name=\"username\0junk\""
                                   "\r\n\r\nv\r\n--x--\r\n";
    assert_int_equal(decode(MULTI, name_nul, sizeof name_nul - 1, &o), GW_ERR_INVALID);
    assert_null(o);
    /* a NUL inside a value is kept whole: the schema refuses it, nothing is truncated */
    static const char value_nul[] = "--x\r\nContent-Disposition: form-data; name=\"username\""
                                    "\r\n\r\nab\0cd\r\n--x--\r\n";
    assert_int_equal(decode(MULTI, value_nul, sizeof value_nul - 1, &o), GW_OK);
    json_t *v = json_object_get(o, "username");
    assert_int_equal(json_string_length(v), 5);
    assert_memory_equal(json_string_value(v), "ab\0cd", 5);
    json_decref(o);
}

static void test_unusable_keys(void **state)
{
    (void)state;
    json_t *o = NULL;
    /* 17 segments: over the nesting limit */
    const char *deep = "name=x&a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1";
    assert_int_equal(decode(FORM, deep, strlen(deep), &o), GW_OK);
    assert_string_equal(json_string_value(json_object_get(o, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q")),
                        "1");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "x");
    json_decref(o);
    /* an index over the limit, a path crossing a scalar, an unclosed bracket */
    const char *bad = "tags[999999999]=t&host=h&host.x=1&k[=2";
    assert_int_equal(decode(FORM, bad, strlen(bad), &o), GW_OK);
    assert_non_null(json_object_get(o, "tags[999999999]"));
    assert_non_null(json_object_get(o, "host.x"));
    assert_non_null(json_object_get(o, "k["));
    assert_null(json_object_get(o, "tags"));
    json_decref(o);
    /* the same literal key twice cannot be kept: the body is refused */
    const char *twice = "a.=1&a.=2";
    assert_int_equal(decode(FORM, twice, strlen(twice), &o), GW_ERR_INVALID);
    assert_null(o);
    static const char mp[] = "--x\r\nContent-Disposition: form-data; name=\"a[].b\"\r\n\r\nv\r\n"
                             "--x--\r\n";
    assert_int_equal(decode(MULTI, mp, sizeof mp - 1, &o), GW_OK);
    assert_string_equal(json_string_value(json_object_get(o, "a[].b")), "v");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_nul),
        cmocka_unit_test(test_multipart_nul),
        cmocka_unit_test(test_unusable_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
