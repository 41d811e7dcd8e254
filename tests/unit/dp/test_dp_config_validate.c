/* tests/unit/dp/test_dp_config_validate.c: received configs are checked with the shared entity
 * model; invalid entities are reported with table, id, field and message; a rejected config
 * does not poison the set of already-validated entities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config/dp_config_validate.h"

struct seen {
    int n;
    char last[512];
};

static void on_error(void *arg, const char *entity, const char *id, const char *field,
                     const char *message)
{
    struct seen *s = arg;
    s->n++;
    snprintf(s->last, sizeof(s->last), "%s|%s|%s|%s", entity, id, field, message);
}

static Portico__V1__Service svc = PORTICO__V1__SERVICE__INIT;
static Portico__V1__Service *svcs[1] = {&svc};

static void make_service(void)
{
    portico__v1__service__init(&svc);
    svc.id = "5b1484f2-5209-49d9-b43e-92ba09dd9d52";
    svc.has_created_at = svc.has_updated_at = 1;
    svc.created_at = svc.updated_at = 1700000000;
    svc.name = "example_service";
    svc.protocol = "http";
    svc.host = "example_upstream";
    svc.has_port = svc.has_retries = svc.has_enabled = 1;
    svc.port = 80;
    svc.retries = 5;
    svc.enabled = 1;
    svc.has_connect_timeout = svc.has_read_timeout = svc.has_write_timeout = 1;
    svc.connect_timeout = svc.read_timeout = svc.write_timeout = 60000;
}

static void valid_config_passes(void **state)
{
    (void)state;
    Portico__V1__Config cfg = PORTICO__V1__CONFIG__INIT;
    make_service();
    cfg.n_services = 1;
    cfg.services = svcs;
    struct seen s = {0};
    assert_int_equal(dp_config_validate(&cfg, on_error, &s), GW_OK);
    assert_int_equal(s.n, 0);
    /* validated again from the fingerprint set */
    assert_int_equal(dp_config_validate(&cfg, on_error, &s), GW_OK);
    dp_config_validate_cleanup();
}

static void invalid_entity_is_reported(void **state)
{
    (void)state;
    Portico__V1__Config cfg = PORTICO__V1__CONFIG__INIT;
    make_service();
    cfg.n_services = 1;
    cfg.services = svcs;
    struct seen s = {0};
    assert_int_equal(dp_config_validate(&cfg, on_error, &s), GW_OK);

    svc.port = 70000; /* out of range */
    assert_int_equal(dp_config_validate(&cfg, on_error, &s), GW_ERR_INVALID);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.last, "services|5b1484f2-5209-49d9-b43e-92ba09dd9d52|port|"
                                "value should be between 0 and 65535");

    svc.port = 80; /* the earlier valid entity is still known valid */
    s.n = 0;
    assert_int_equal(dp_config_validate(&cfg, on_error, &s), GW_OK);
    assert_int_equal(s.n, 0);

    svc.protocol = "gopher";
    assert_int_equal(dp_config_validate(&cfg, NULL, NULL), GW_ERR_INVALID);
    dp_config_validate_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_config_passes),
        cmocka_unit_test(invalid_entity_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
