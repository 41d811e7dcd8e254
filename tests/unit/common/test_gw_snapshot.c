/* tests/unit/common/test_gw_snapshot.c: snapshot build/open round trip, hashing, limits and
 * corruption detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gw_snapshot.h"

static Portico__V1__Service svc = PORTICO__V1__SERVICE__INIT;
static Portico__V1__Service *svcs[1] = {&svc};

static void make_config(Portico__V1__Config *cfg)
{
    portico__v1__config__init(cfg);
    svc.id = "5b1484f2-5209-49d9-b43e-92ba09dd9d52";
    svc.host = "example_upstream";
    svc.has_port = 1;
    svc.port = 80;
    cfg->n_services = 1;
    cfg->services = svcs;
}

static void round_trip_and_stable_hash(void **state)
{
    (void)state;
    Portico__V1__Config cfg;
    make_config(&cfg);
    Portico__V1__Snapshot a = PORTICO__V1__SNAPSHOT__INIT, b = PORTICO__V1__SNAPSHOT__INIT;
    assert_int_equal(gw_snapshot_build(&cfg, 7, &a), GW_OK);
    assert_int_equal(gw_snapshot_build(&cfg, 8, &b), GW_OK);
    assert_int_equal(strlen(a.hash), 64);
    assert_string_equal(a.hash, b.hash); /* equal configs, equal hashes */
    assert_int_equal(a.revision, 7);

    Portico__V1__Config *out = NULL;
    char err[256];
    assert_int_equal(gw_snapshot_open(&a, 1 << 20, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out->n_services, 1);
    assert_string_equal(out->services[0]->host, "example_upstream");
    assert_int_equal(out->services[0]->port, 80);
    portico__v1__config__free_unpacked(out, NULL);

    svc.port = 81;
    Portico__V1__Snapshot c = PORTICO__V1__SNAPSHOT__INIT;
    assert_int_equal(gw_snapshot_build(&cfg, 9, &c), GW_OK);
    assert_string_not_equal(a.hash, c.hash);
    svc.port = 80;
    gw_snapshot_clear(&a);
    gw_snapshot_clear(&b);
    gw_snapshot_clear(&c);
}

static void rejects_oversize_and_corruption(void **state)
{
    (void)state;
    Portico__V1__Config cfg;
    make_config(&cfg);
    Portico__V1__Snapshot s = PORTICO__V1__SNAPSHOT__INIT;
    Portico__V1__Config *out = NULL;
    char err[256];
    assert_int_equal(gw_snapshot_build(&cfg, 1, &s), GW_OK);

    assert_int_equal(gw_snapshot_open(&s, 4, &out, err, sizeof(err)), GW_ERR_TOOBIG);
    assert_null(out);
    assert_non_null(strstr(err, "exceeds"));

    s.hash[0] = s.hash[0] == 'a' ? 'b' : 'a';
    assert_int_equal(gw_snapshot_open(&s, 1 << 20, &out, err, sizeof(err)), GW_ERR_INVALID);
    assert_non_null(strstr(err, "hash mismatch"));
    s.hash[0] = s.hash[0] == 'a' ? 'b' : 'a';

    s.config.data[s.config.len / 2] ^= 0x5a;
    assert_int_equal(gw_snapshot_open(&s, 1 << 20, &out, err, sizeof(err)), GW_ERR_INVALID);
    assert_null(out);

    s.uncompressed_size += 1000; /* lies about its size */
    assert_int_equal(gw_snapshot_open(&s, 1 << 20, &out, err, sizeof(err)), GW_ERR_INVALID);
    gw_snapshot_clear(&s);
}

static void uncompressed_snapshots_are_accepted(void **state)
{
    (void)state;
    Portico__V1__Config cfg;
    make_config(&cfg);
    size_t len = portico__v1__config__get_packed_size(&cfg);
    uint8_t *raw = malloc(len);
    portico__v1__config__pack(&cfg, raw);
    char hash[65];
    gw_snapshot_hash(raw, len, hash);
    Portico__V1__Snapshot s = PORTICO__V1__SNAPSHOT__INIT;
    s.hash = hash;
    s.has_config = 1;
    s.config.data = raw;
    s.config.len = len;
    Portico__V1__Config *out = NULL;
    char err[256];
    assert_int_equal(gw_snapshot_open(&s, 1 << 20, &out, err, sizeof(err)), GW_OK);
    portico__v1__config__free_unpacked(out, NULL);
    assert_int_equal(gw_snapshot_open(&s, 2, &out, err, sizeof(err)), GW_ERR_TOOBIG);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_and_stable_hash),
        cmocka_unit_test(rejects_oversize_and_corruption),
        cmocka_unit_test(uncompressed_snapshots_are_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
