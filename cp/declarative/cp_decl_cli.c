/* cp/declarative/cp_decl_cli.c: `portico-cp config validate|diff|sync|dump`.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_decl_diff.h"
#include "cp_decl_errors.h"
#include "cp_decl_export.h"
#include "cp_decl_load.h"
#include "cp_decl_sync.h"
#include "store/cp_migrations.h"
#include "store/cp_store.h"

#define MAX_TAGS 16

struct cli_args {
    const char *cmd;
    const char *file;
    const char *format;
    const char *tags[MAX_TAGS + 1];
    size_t ntags;
};

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "portico-cp: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fprintf(stderr, "usage: portico-cp config validate FILE\n"
                    "       portico-cp config diff FILE [--select-tag TAG]...\n"
                    "       portico-cp config sync FILE [--select-tag TAG]...\n"
                    "       portico-cp config dump [FILE] [--format yaml|json] "
                    "[--select-tag TAG]...\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof(*a));
    if (argc < 2)
        return usage_error("config needs a subcommand", NULL);
    a->cmd = argv[1];
    if (strcmp(a->cmd, "validate") != 0 && strcmp(a->cmd, "diff") != 0 &&
        strcmp(a->cmd, "sync") != 0 && strcmp(a->cmd, "dump") != 0)
        return usage_error("unknown config subcommand", a->cmd);
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--select-tag") == 0 || strcmp(argv[i], "--format") == 0) {
            if (i + 1 >= argc)
                return usage_error("missing value for", argv[i]);
            v = argv[i + 1];
        } else if (strncmp(argv[i], "--select-tag=", 13) == 0) {
            v = argv[i] + 13;
        } else if (strncmp(argv[i], "--format=", 9) == 0) {
            v = argv[i] + 9;
        }
        if (strncmp(argv[i], "--select-tag", 12) == 0 && v) {
            if (a->ntags >= MAX_TAGS || !v[0] || strcmp(a->cmd, "validate") == 0)
                return usage_error("bad --select-tag", v);
            a->tags[a->ntags++] = v;
            if (!strchr(argv[i], '='))
                i++;
        } else if (strncmp(argv[i], "--format", 8) == 0 && v) {
            if (strcmp(v, "yaml") != 0 && strcmp(v, "json") != 0)
                return usage_error("--format must be yaml or json, not", v);
            a->format = v;
            if (!strchr(argv[i], '='))
                i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_error("unknown option", argv[i]);
        } else if (!a->file) {
            a->file = argv[i];
        } else {
            return usage_error("unexpected argument", argv[i]);
        }
    }
    if (!a->file && strcmp(a->cmd, "dump") != 0)
        return usage_error("missing FILE for", a->cmd);
    return 0;
}

/* Loads and validates the file. Returns the entity set or NULL after printing the errors. */
static json_t *load_file(const struct cli_args *a)
{
    json_t *doc = NULL, *entities = NULL, *errs = NULL;
    char err[512];
    enum gw_err rc = cp_decl_parse_file(a->file, &doc, err, sizeof(err));
    if (rc != GW_OK) {
        fprintf(stderr, "portico-cp: failed parsing declarative configuration: %s\n", err);
        return NULL;
    }
    rc = cp_decl_load_doc(doc, a->ntags ? a->tags : NULL, &entities, &errs);
    if (rc == GW_ERR_INVALID) {
        char *text = cp_decl_error_text(errs, doc);
        fprintf(stderr, "portico-cp: invalid declarative configuration in %s:\n%s", a->file,
                text ? text : "");
        free(text);
    } else if (rc != GW_OK) {
        fprintf(stderr, "portico-cp: cannot load %s: %s\n", a->file, gw_err_str(rc));
    }
    json_decref(errs);
    json_decref(doc);
    return entities;
}

static struct cp_store *open_store(const struct gw_conf *conf)
{
    char msg[512];
    struct cp_store *s = cp_store_create(conf);
    if (!s) {
        fprintf(stderr, "portico-cp: out of memory\n");
        return NULL;
    }
    if (cp_store_connect(s) != GW_OK) {
        fprintf(stderr, "portico-cp: cannot reach PostgreSQL (%s)\n", cp_store_describe(s));
        cp_store_destroy(s);
        return NULL;
    }
    if (cp_migrations_check(s, msg, sizeof(msg)) != GW_OK) {
        fprintf(stderr, "portico-cp: %s\n", msg);
        cp_store_destroy(s);
        return NULL;
    }
    return s;
}

static int diff_or_sync(const struct gw_conf *conf, const struct cli_args *a, bool apply)
{
    int status = 1;
    json_t *diff = NULL;
    struct gw_buf out;
    gw_buf_init(&out, 0);
    json_t *wanted = load_file(a);
    if (!wanted)
        return 1;
    struct cp_store *s = open_store(conf);
    if (!s)
        goto out;
    char err[1024];
    int64_t rev = 0;
    if (cp_decl_sync(s, wanted, a->ntags ? a->tags : NULL, apply, &diff, &rev, err, sizeof(err)) !=
        GW_OK) {
        fprintf(stderr, "portico-cp: %s failed, nothing was changed: %s\n", a->cmd, err);
        goto out;
    }
    if (cp_decl_diff_text(diff, &out) != GW_OK) {
        fprintf(stderr, "portico-cp: out of memory\n");
        goto out;
    }
    fputs(out.data, stdout);
    if (apply && rev > 0)
        printf("configuration revision %lld\n", (long long)rev);
    status = 0;
out:
    gw_buf_cleanup(&out);
    json_decref(diff);
    json_decref(wanted);
    cp_store_destroy(s);
    return status;
}

static bool has_tags(const json_t *e, const struct cli_args *a)
{
    for (size_t i = 0; i < a->ntags; i++) {
        bool have = false;
        size_t j;
        json_t *t;
        json_array_foreach(json_object_get(e, "tags"), j, t)
        {
            if (json_is_string(t) && strcmp(json_string_value(t), a->tags[i]) == 0)
                have = true;
        }
        if (!have)
            return false;
    }
    return true;
}

static int dump(const struct gw_conf *conf, const struct cli_args *a)
{
    int status = 1;
    json_t *current = NULL;
    char *text = NULL;
    size_t len = 0;
    char err[512];
    struct cp_store *s = open_store(conf);
    if (!s)
        return 1;
    if (cp_decl_sync_read(s, &current, err, sizeof(err)) != GW_OK) {
        fprintf(stderr, "portico-cp: %s\n", err);
        goto out;
    }
    if (a->ntags) {
        const char *k;
        json_t *arr;
        json_object_foreach(current, k, arr)
        {
            for (size_t i = json_array_size(arr); i-- > 0;)
                if (!has_tags(json_array_get(arr, i), a))
                    json_array_remove(arr, i);
        }
    }
    enum cp_decl_format fmt = CP_DECL_FORMAT_YAML;
    size_t flen = a->file ? strlen(a->file) : 0;
    if ((a->format && strcmp(a->format, "json") == 0) ||
        (!a->format && flen > 5 && strcmp(a->file + flen - 5, ".json") == 0))
        fmt = CP_DECL_FORMAT_JSON;
    if (cp_decl_export(current, fmt, &text, &len) != GW_OK) {
        fprintf(stderr, "portico-cp: cannot export the configuration\n");
        goto out;
    }
    if (a->file) {
        FILE *f = fopen(a->file, "w");
        if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
            perror(a->file);
            goto out;
        }
    } else {
        fwrite(text, 1, len, stdout);
        if (fmt == CP_DECL_FORMAT_JSON)
            fputc('\n', stdout);
    }
    status = 0;
out:
    free(text);
    json_decref(current);
    cp_store_destroy(s);
    return status;
}

int cp_decl_cli_main(const struct gw_conf *conf, int argc, char **argv)
{
    struct cli_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (strcmp(a.cmd, "validate") == 0) {
        json_t *entities = load_file(&a);
        if (!entities)
            return 1;
        json_decref(entities);
        printf("parse successful\n");
        return 0;
    }
    if (strcmp(a.cmd, "dump") == 0)
        return dump(conf, &a);
    return diff_or_sync(conf, &a, strcmp(a.cmd, "sync") == 0);
}
