/* tests/unit/cp/test_cp_migrations.c: the database schema agrees with the entity model: every
 * foreign key of gw_schema has a named constraint with the same referenced table and delete
 * rule, every unique field has a unique constraint, and constraint names map back.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw_schema.h"
#include "store/cp_migrations.h"

static void test_foreign_keys_match_schema(void **state)
{
    (void)state;
    size_t checked = 0;
    for (const char *const *e = gw_schema_entities(); *e; e++) {
        const struct gw_schema *s = gw_schema_get(*e);
        assert_non_null(s);
        size_t n = 0;
        const struct gw_schema_foreign *f = gw_schema_foreigns(s, &n);
        for (size_t i = 0; i < n; i++) {
            char name[128];
            snprintf(name, sizeof(name), "fk_%s_%s", *e, f[i].field);
            const struct cp_constraint *c = cp_migrations_constraint(name);
            if (!c)
                fail_msg("no constraint %s", name);
            assert_int_equal(c->kind, CP_CONSTRAINT_FOREIGN);
            assert_string_equal(c->table, *e);
            assert_string_equal(c->fields[0], f[i].field);
            assert_string_equal(c->ref, f[i].entity);
            assert_int_equal(c->cascade, f[i].on_delete == GW_SCHEMA_ON_DELETE_CASCADE);
            checked++;
        }
        for (const char *const *u = gw_schema_unique_fields(s); u && *u; u++) {
            char name[128];
            snprintf(name, sizeof(name), "uq_%s_%s", *e, *u);
            const struct cp_constraint *c = cp_migrations_constraint(name);
            if (!c)
                fail_msg("no unique constraint %s", name);
            assert_int_equal(c->kind, CP_CONSTRAINT_UNIQUE);
            checked++;
        }
        char pk[128];
        snprintf(pk, sizeof(pk), "%s_pkey", *e);
        const struct cp_constraint *c = cp_migrations_constraint(pk);
        assert_non_null(c);
        assert_int_equal(c->kind, CP_CONSTRAINT_PRIMARY);
        assert_string_equal(c->fields[0], "id");
    }
    assert_true(checked >= 10);
    assert_null(cp_migrations_constraint("nope"));
    assert_true(cp_migrations_latest() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_keys_match_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
