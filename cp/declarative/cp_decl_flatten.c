/* cp/declarative/cp_decl_flatten.c: the declarative configuration flattener (see the header).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_flatten.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_decl_entities.h"
#include "cp_decl_errors.h"
#include "gw_buf.h"
#include "gw_uuid.h"

#define ENTITIES_NS "fd02801f-0957-4a15-a55a-c8d9606f30b5"

/* ---- path migration (format 1.1 / 2.1) ------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_reserved(int c)
{
    return c && strchr("!#$%&'()*+,/:;=?@[]", c) != NULL;
}

/* Decodes %XX triplets: reserved characters stay encoded (upper-cased), regex metacharacters
 * are escaped with a backslash when escape_meta is set, everything else is decoded. */
static enum gw_err percent_decode(const char *s, bool escape_meta, struct gw_buf *b)
{
    for (size_t i = 0; s[i]; i++) {
        int h, l;
        if (s[i] == '%' && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0) {
            int c = h * 16 + l;
            enum gw_err rc;
            if (c == 0 || is_reserved(c))
                rc = gw_buf_appendf(b, "%%%c%c", (char)(s[i + 1] >= 'a' ? s[i + 1] - 32 : s[i + 1]),
                                    (char)(s[i + 2] >= 'a' ? s[i + 2] - 32 : s[i + 2]));
            else if (escape_meta && strchr(".^-{}\\|", c))
                rc = gw_buf_appendf(b, "\\%c", (char)c);
            else
                rc = gw_buf_appendf(b, "%c", (char)c);
            if (rc != GW_OK)
                return rc;
            i += 2;
        } else if (gw_buf_append(b, &s[i], 1) != GW_OK) {
            return GW_ERR_NOMEM;
        }
    }
    return gw_buf_append(b, "", 0);
}

/* Kong's kong.tools.uri normalize(uri, merge_slashes = true) on an already decoded path. */
static char *remove_dots(const char *uri)
{
    size_t n = strlen(uri);
    if (!strchr(uri, '.') && !strstr(uri, "//"))
        return strdup(uri);
    const char **seg = calloc(n + 1, sizeof(*seg));
    size_t *seglen = calloc(n + 1, sizeof(*seglen));
    char *out = calloc(n + 2, 1);
    size_t nseg = 0;
    if (!seg || !seglen || !out) {
        free(out);
        out = NULL;
        goto done;
    }
    const char *p = uri;
    size_t len = n;
    while (len > 0) {
        if (len == 2 && memcmp(p, "/.", 2) == 0) {
            p = "/";
            len = 1;
        } else if (len == 3 && memcmp(p, "/..", 3) == 0) {
            p = "/";
            len = 1;
            if (nseg > 0)
                nseg--;
        } else if ((len == 1 && p[0] == '.') || (len == 2 && memcmp(p, "..", 2) == 0)) {
            len = 0;
        } else if (len >= 3 && memcmp(p, "../", 3) == 0) {
            p += 3;
            len -= 3;
        } else if (len >= 2 && memcmp(p, "./", 2) == 0) {
            p += 2;
            len -= 2;
        } else if (len >= 3 && memcmp(p, "/./", 3) == 0) {
            p += 2;
            len -= 2;
        } else if (len >= 4 && memcmp(p, "/../", 4) == 0) {
            p += 3;
            len -= 3;
            if (nseg > 0)
                nseg--;
        } else if (len >= 2 && p[0] == '/' && p[1] == '/') {
            p += 1;
            len -= 1;
        } else {
            const char *slash = len > 1 ? memchr(p + 1, '/', len - 1) : NULL;
            size_t l = slash ? (size_t)(slash - p) : len;
            seg[nseg] = p;
            seglen[nseg] = l;
            nseg++;
            p += l;
            len -= l;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < nseg; i++) {
        memcpy(out + o, seg[i], seglen[i]);
        o += seglen[i];
    }
    out[o] = '\0';
done:
    free(seg);
    free(seglen);
    return out;
}

char *cp_decl_migrate_path(const char *path)
{
    bool plain = true;
    for (const char *c = path; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(".-_~/%", *c)))
            plain = false;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    if (!plain && gw_buf_append(&b, "~", 1) != GW_OK)
        return NULL;
    if (percent_decode(path, !plain, &b) != GW_OK) {
        gw_buf_cleanup(&b);
        return NULL;
    }
    char *s = gw_buf_steal(&b);
    if (!plain || !s || s[0] == '\0' || strcmp(s, "/") == 0)
        return s;
    char *r = remove_dots(s);
    free(s);
    return r;
}

void cp_decl_entity_uuid(const char *table, const char *key, char out[37])
{
    char ns[GW_UUID_STRLEN + 1];
    /* Both namespaces are valid UUIDs, so gw_uuid_v5 cannot fail here. */
    gw_uuid_v5(ENTITIES_NS, table, strlen(table), ns);
    gw_uuid_v5(ns, key, strlen(key), out);
}

/* ---- flattening ------------------------------------------------------------------------------ */

struct flat {
    json_t *out;     /* the result */
    json_t *errs;    /* fields tree */
    json_t *by_id;   /* {table: {id: entity}} (borrowed refs held by the object) */
    json_t *by_key;  /* {table: {endpoint key: entity}} */
    json_t *uniq;    /* {table: {field: {value: true}}} */
    json_t *records; /* [{"t": table, "i": index in out[table], "p": path}] */
    json_t *path;    /* current path in the input: ["services", 0, "routes", 1] */
    const struct cp_decl_flatten_opts *opts;
    bool nomem;
};

static json_t *child_obj(json_t *parent, const char *key)
{
    json_t *c = json_object_get(parent, key);
    if (!c) {
        c = json_object();
        if (json_object_set_new(parent, key, c) != 0)
            return NULL;
    }
    return c;
}

static void err_at(struct flat *f, const json_t *path, const char *field, const char *msg)
{
    if (cp_decl_errors_add(f->errs, path, field, msg) != GW_OK)
        f->nomem = true;
}

static void err_entity(struct flat *f, const json_t *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_entity(struct flat *f, const json_t *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_at(f, path, "@entity", msg);
}

static bool push(struct flat *f, json_t *seg)
{
    if (!seg || json_array_append_new(f->path, seg) != 0) {
        f->nomem = true;
        return false;
    }
    return true;
}

static void pop(struct flat *f)
{
    json_array_remove(f->path, json_array_size(f->path) - 1);
}

static const char *str_or_null(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Kong's build_cache_key: "<table>:<v1>:<v2>..." or NULL when a needed value is missing. */
static bool cache_key(const struct cp_decl_entity *e, const json_t *item, const char *parent_id,
                      const struct cp_decl_fk *parent_fk, struct gw_buf *b)
{
    if (gw_buf_append_str(b, e->name) != GW_OK)
        return false;
    for (size_t i = 0; e->cache_key[i]; i++) {
        const char *k = e->cache_key[i];
        const json_t *v = json_object_get(item, k);
        if (json_is_string(v)) {
            if (gw_buf_appendf(b, ":%s", json_string_value(v)) != GW_OK)
                return false;
        } else if (!v || json_is_null(v)) {
            if (parent_fk && strcmp(k, parent_fk->field) == 0) {
                if (!parent_id || gw_buf_appendf(b, ":%s", parent_id) != GW_OK)
                    return false;
            } else if ((strcmp(e->name, "targets") == 0 && strcmp(k, "upstream") == 0) ||
                       (strcmp(e->name, "plugins") == 0 && strcmp(k, "name") == 0) ||
                       strcmp(k, "key") == 0) {
                return false; /* required field missing: no deterministic id */
            } else if (gw_buf_append_str(b, ":") != GW_OK) {
                return false;
            }
        }
        /* Other types add nothing, as in Kong. */
    }
    return true;
}

/* Kong's get_key_for_uuid_gen + generate_uuid. Writes the id into out; false = no
 * deterministic key (a random id is used). */
static bool deterministic_id(const struct cp_decl_entity *e, const json_t *item,
                             const char *parent_id, const struct cp_decl_fk *parent_fk,
                             char out[37])
{
    struct gw_buf b;
    bool ok = false;
    gw_buf_init(&b, 65536);
    const char *ek = e->endpoint_key ? str_or_null(json_object_get(item, e->endpoint_key)) : NULL;
    if (ek) {
        if (gw_buf_append_str(&b, ek) != GW_OK)
            goto out;
        if (!e->endpoint_key_unique) {
            for (size_t i = 0; i < e->nfks; i++) {
                if (!e->fks[i].cascade)
                    continue;
                const char *fv = NULL;
                if (parent_fk)
                    fv = parent_id;
                else
                    fv = str_or_null(json_object_get(item, e->fks[i].field));
                if (!fv || gw_buf_appendf(&b, ":%s", fv) != GW_OK)
                    goto out;
            }
        }
        ok = true;
    } else if (e->cache_key) {
        ok = cache_key(e, item, parent_id, parent_fk, &b);
    }
    if (ok)
        cp_decl_entity_uuid(e->name, b.data ? b.data : "", out);
out:
    gw_buf_cleanup(&b);
    return ok;
}

/* Where Kong would draw a random id (an entity with neither an endpoint key nor a cache key:
 * a route or service without a name, a certificate, a consumer with only a custom_id), the id
 * is derived from the entity's content instead (its fields as written, the parent's id
 * included for a nested entity), so loading the same file twice gives the same ids and a sync
 * of an unchanged file changes nothing. Editing such an entity gives it a new id. */
static bool content_id(const struct cp_decl_entity *e, const json_t *flat, char out[37])
{
    char *dump = json_dumps(flat, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!dump)
        return false;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    bool ok = gw_buf_appendf(&b, "portico-content:%s", dump) == GW_OK;
    free(dump);
    if (ok)
        cp_decl_entity_uuid(e->name, b.data, out);
    gw_buf_cleanup(&b);
    return ok;
}

static bool is_child_key(const struct cp_decl_entity *parent, const char *key)
{
    const struct cp_decl_entity *c = cp_decl_entity_get(key);
    return c && cp_decl_entity_parent_fk(c, parent->name) != NULL;
}

static void add_select_tags(struct flat *f, json_t *flat)
{
    if (!f->opts || !f->opts->select_tags || !f->opts->select_tags[0])
        return;
    json_t *tags = json_object_get(flat, "tags");
    if (!tags || json_is_null(tags)) {
        tags = json_array();
        if (json_object_set_new(flat, "tags", tags) != 0) {
            f->nomem = true;
            return;
        }
    }
    if (!json_is_array(tags))
        return; /* validation reports it */
    for (size_t i = 0; f->opts->select_tags[i]; i++) {
        const char *t = f->opts->select_tags[i];
        bool have = false;
        size_t j;
        json_t *v;
        json_array_foreach(tags, j, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
                have = true;
        }
        if (!have && json_array_append_new(tags, json_string(t)) != 0)
            f->nomem = true;
    }
}

/* Indexes a flat entity by id, endpoint key and unique fields; reports duplicates. */
static void index_entity(struct flat *f, const struct cp_decl_entity *e, json_t *flat)
{
    const char *id = str_or_null(json_object_get(flat, "id"));
    json_t *ids = child_obj(f->by_id, e->name);
    json_t *keys = child_obj(f->by_key, e->name);
    json_t *uniq = child_obj(f->uniq, e->name);
    if (!ids || !keys || !uniq) {
        f->nomem = true;
        return;
    }
    if (id) {
        if (json_object_get(ids, id))
            err_entity(f, f->path,
                       "uniqueness violation: '%s' entity with primary key set to '%s' already "
                       "declared",
                       e->name, id);
        else if (json_object_set(ids, id, flat) != 0)
            f->nomem = true;
    }
    for (size_t i = 0; e->unique[i]; i++) {
        const char *v = str_or_null(json_object_get(flat, e->unique[i]));
        if (!v)
            continue;
        json_t *seen = child_obj(uniq, e->unique[i]);
        if (!seen) {
            f->nomem = true;
            return;
        }
        if (json_object_get(seen, v)) {
            err_entity(f, f->path,
                       "uniqueness violation: '%s' entity with %s set to '%s' already declared",
                       e->name, e->unique[i], v);
            continue;
        }
        if (json_object_set_new(seen, v, json_true()) != 0)
            f->nomem = true;
    }
    const char *ek = e->endpoint_key ? str_or_null(json_object_get(flat, e->endpoint_key)) : NULL;
    if (ek && e->endpoint_key_unique && !json_object_get(keys, ek) &&
        json_object_set(keys, ek, flat) != 0)
        f->nomem = true;
}

static void walk(struct flat *f, const json_t *container, const struct cp_decl_entity *parent,
                 const char *parent_id);

static void walk_item(struct flat *f, const struct cp_decl_entity *e, const json_t *item,
                      const struct cp_decl_entity *parent, const struct cp_decl_fk *pfk,
                      const char *parent_id)
{
    if (!json_is_object(item)) {
        err_at(f, f->path, NULL, "expected a record");
        return;
    }
    json_t *flat = json_object();
    if (!flat) {
        f->nomem = true;
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)item, k, v)
    {
        if (strcmp(k, "_comment") == 0 || strcmp(k, "_ignore") == 0)
            continue;
        if (is_child_key(e, k)) {
            if (!json_is_array(v) && !json_is_null(v))
                err_at(f, f->path, k, "expected an array");
            continue;
        }
        if (json_object_set(flat, k, v) != 0)
            f->nomem = true;
    }
    if (parent) {
        json_t *given = json_object_get(flat, pfk->field);
        if (given && !json_is_null(given))
            err_at(f, f->path, pfk->field, "value must be null");
        json_t *ref = parent_id ? json_pack("{s:s}", "id", parent_id) : json_null();
        if (!ref || json_object_set_new(flat, pfk->field, ref) != 0)
            f->nomem = true;
    }
    json_t *idv = json_object_get(flat, "id");
    char id[GW_UUID_STRLEN + 1];
    if (!idv || json_is_null(idv)) {
        if (!deterministic_id(e, item, parent_id, parent ? pfk : NULL, id) &&
            !content_id(e, flat, id) && gw_uuid_v4(id) != GW_OK)
            f->nomem = true;
        if (json_object_set_new(flat, "id", json_string(id)) != 0)
            f->nomem = true;
    } else if (!json_is_string(idv) || !gw_uuid_valid(json_string_value(idv))) {
        err_at(f, f->path, "id", "expected a valid UUID");
    } else {
        /* Kong keeps ids as written; Postgres stores uuids in lower case. */
        char lower[GW_UUID_STRLEN + 1];
        const char *s = json_string_value(idv);
        for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
            lower[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] + 32 : s[i]);
        json_object_set_new(flat, "id", json_string(lower));
    }
    add_select_tags(f, flat);
    index_entity(f, e, flat);

    json_t *arr = json_object_get(f->out, e->name);
    /* The record keeps a copy of the path: f->path changes as the walk goes on. */
    json_t *rec = json_pack("{s:s, s:I, s:o}", "t", e->name, "i", (json_int_t)json_array_size(arr),
                            "p", json_copy(f->path));
    if (!rec || json_array_append(arr, flat) != 0 || json_array_append_new(f->records, rec) != 0)
        f->nomem = true;
    const char *my_id = str_or_null(json_object_get(flat, "id"));
    if (my_id && !gw_uuid_valid(my_id))
        my_id = NULL;
    walk(f, item, e, my_id);
    json_decref(flat);
}

/* Walks the entity arrays of container: the top level (parent NULL) or the children nested in
 * an entity of table parent whose id is parent_id (NULL when it has none). */
static void walk(struct flat *f, const json_t *container, const struct cp_decl_entity *parent,
                 const char *parent_id)
{
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n && !f->nomem; t++) {
        const struct cp_decl_entity *e = &all[t];
        const struct cp_decl_fk *pfk = NULL;
        if (parent) {
            pfk = cp_decl_entity_parent_fk(e, parent->name);
            if (!pfk)
                continue;
        }
        const json_t *arr = json_object_get(container, e->name);
        if (!arr || json_is_null(arr))
            continue;
        if (!json_is_array(arr)) {
            if (!parent)
                err_at(f, f->path, e->name, "expected an array");
            continue; /* nested: reported by walk_item */
        }
        if (!push(f, json_string(e->name)))
            return;
        size_t i;
        const json_t *item;
        json_array_foreach(arr, i, item)
        {
            if (!push(f, json_integer((json_int_t)i)))
                return;
            walk_item(f, e, item, parent, pfk, parent_id);
            pop(f);
        }
        pop(f);
    }
}

static char *ref_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/* Ids are stored in lower case; a reference may use either case. */
static json_t *find_id(json_t *ids, const char *id)
{
    char lower[GW_UUID_STRLEN + 1];
    if (!gw_uuid_valid(id))
        return json_object_get(ids, id);
    for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
        lower[i] = (char)((id[i] >= 'A' && id[i] <= 'F') ? id[i] + 32 : id[i]);
    return json_object_get(ids, lower);
}

/* Resolves the foreign keys of every entity to {"id": ...}. */
static void resolve(struct flat *f)
{
    size_t r;
    json_t *rec;
    json_array_foreach(f->records, r, rec)
    {
        const char *table = json_string_value(json_object_get(rec, "t"));
        const struct cp_decl_entity *e = cp_decl_entity_get(table);
        json_t *flat = json_array_get(json_object_get(f->out, table),
                                      (size_t)json_integer_value(json_object_get(rec, "i")));
        const json_t *path = json_object_get(rec, "p");
        for (size_t k = 0; k < e->nfks; k++) {
            const struct cp_decl_fk *fk = &e->fks[k];
            json_t *v = json_object_get(flat, fk->field);
            if (!v || json_is_null(v))
                continue;
            json_t *found = NULL;
            json_t *ids = json_object_get(f->by_id, fk->entity);
            json_t *keys = json_object_get(f->by_key, fk->entity);
            if (json_is_string(v)) {
                found = json_object_get(keys, json_string_value(v));
                if (!found)
                    found = find_id(ids, json_string_value(v));
            } else if (json_is_object(v)) {
                const char *id = str_or_null(json_object_get(v, "id"));
                const char *name = str_or_null(json_object_get(v, "name"));
                if (id)
                    found = find_id(ids, id);
                else if (name)
                    found = json_object_get(keys, name);
            }
            if (!found) {
                char *txt = ref_text(v);
                char msg[512];
                snprintf(msg, sizeof(msg), "invalid reference '%s: %s' (no such entry in '%s')",
                         fk->field, txt ? txt : "?", fk->entity);
                free(txt);
                err_at(f, path, fk->field, msg);
                continue;
            }
            json_t *ref = json_pack("{s:O}", "id", json_object_get(found, "id"));
            if (!ref || json_object_set_new(flat, fk->field, ref) != 0)
                f->nomem = true;
        }
    }
}

static enum gw_err process_all(struct flat *f)
{
    size_t r;
    json_t *rec;
    json_array_foreach(f->records, r, rec)
    {
        const char *table = json_string_value(json_object_get(rec, "t"));
        json_t *arr = json_object_get(f->out, table);
        size_t i = (size_t)json_integer_value(json_object_get(rec, "i"));
        json_t *entity = json_incref(json_array_get(arr, i));
        json_t *fields = NULL;
        /* A reference that did not resolve is already reported; the entity model must not
         * report it again as a malformed foreign key. */
        const struct cp_decl_entity *e = cp_decl_entity_get(table);
        for (size_t k = 0; e && k < e->nfks; k++) {
            json_t *v = json_object_get(entity, e->fks[k].field);
            if (v && !json_is_null(v) && !json_is_string(json_object_get(v, "id"))) {
                json_t *copy = json_deep_copy(entity);
                json_decref(entity);
                entity = copy;
                if (!entity || json_object_set_new(entity, e->fks[k].field, json_null()) != 0)
                    return GW_ERR_NOMEM;
            }
        }
        enum gw_err rc = f->opts->process(f->opts->process_ud, table, &entity, &fields);
        if (rc == GW_ERR_INVALID) {
            if (fields && cp_decl_errors_merge(f->errs, json_object_get(rec, "p"), fields) != GW_OK)
                f->nomem = true;
            json_decref(fields);
        } else if (rc != GW_OK) {
            json_decref(entity);
            json_decref(fields);
            return rc;
        }
        if (entity && json_array_set_new(arr, i, entity) != 0)
            return GW_ERR_NOMEM;
    }
    return GW_OK;
}

static void check_top(struct flat *f, const json_t *in)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        if (strcmp(k, "_format_version") == 0) {
            if (!json_is_string(v))
                err_at(f, f->path, k, "expected a string");
            else if (strcmp(json_string_value(v), "1.1") != 0 &&
                     strcmp(json_string_value(v), "2.1") != 0 &&
                     strcmp(json_string_value(v), "3.0") != 0)
                err_at(f, f->path, k, "expected one of: 1.1, 2.1, 3.0");
        } else if (strcmp(k, "_transform") == 0) {
            if (!json_is_boolean(v))
                err_at(f, f->path, k, "expected a boolean");
        } else if (strcmp(k, "_comment") == 0 || strcmp(k, "_workspace") == 0) {
            if (!json_is_string(v) && !json_is_null(v))
                err_at(f, f->path, k, "expected a string");
        } else if (strcmp(k, "_ignore") == 0) {
            if (!json_is_array(v) && !json_is_null(v))
                err_at(f, f->path, k, "expected an array");
        } else if (!cp_decl_entity_get(k)) {
            err_at(f, f->path, k, "unknown field");
        }
    }
    if (!json_object_get(in, "_format_version"))
        err_at(f, f->path, "_format_version", "required field missing");
}

static void migrate_routes(json_t *routes)
{
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r)
    {
        json_t *paths = json_object_get(r, "paths");
        size_t j;
        json_t *p;
        json_array_foreach(paths, j, p)
        {
            if (!json_is_string(p))
                continue;
            char *m = cp_decl_migrate_path(json_string_value(p));
            if (m)
                json_array_set_new(paths, j, json_string(m));
            free(m);
        }
    }
}

/* Kong migrates top-level routes and routes nested in top-level services only. */
static void migrate(json_t *in)
{
    const char *v = str_or_null(json_object_get(in, "_format_version"));
    if (!v || (strcmp(v, "1.1") != 0 && strcmp(v, "2.1") != 0))
        return;
    migrate_routes(json_object_get(in, "routes"));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(in, "services"), i, s)
    {
        migrate_routes(json_object_get(s, "routes"));
    }
}

enum gw_err cp_decl_flatten(const json_t *input, const struct cp_decl_flatten_opts *opts,
                            json_t **out, json_t **err_fields)
{
    struct flat f = {0};
    enum gw_err rc = GW_ERR_NOMEM;
    json_t *in = NULL;
    *out = NULL;
    *err_fields = NULL;
    f.opts = opts;
    f.out = json_object();
    f.errs = json_object();
    f.by_id = json_object();
    f.by_key = json_object();
    f.uniq = json_object();
    f.records = json_array();
    f.path = json_array();
    if (!f.out || !f.errs || !f.by_id || !f.by_key || !f.uniq || !f.records || !f.path)
        goto out;
    if (!json_is_object(input)) {
        json_object_set_new(f.errs, "error",
                            json_string("failed parsing declarative configuration: expected an "
                                        "object"));
        rc = GW_ERR_INVALID;
        goto out;
    }
    in = json_deep_copy(input);
    if (!in)
        goto out;
    check_top(&f, in);
    migrate(in);
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++)
        if (json_object_set_new(f.out, all[t].name, json_array()) != 0)
            goto out;
    walk(&f, in, NULL, NULL);
    if (f.nomem)
        goto out;
    resolve(&f);
    if (f.nomem)
        goto out;
    /* Entity validation runs even when the structure has errors, so one run reports all. */
    if (opts && opts->process) {
        rc = process_all(&f);
        if (rc != GW_OK)
            goto out;
        rc = GW_ERR_NOMEM;
        if (f.nomem)
            goto out;
    }
    if (json_object_size(f.errs) > 0) {
        rc = GW_ERR_INVALID;
        goto out;
    }
    json_t *fv = json_object_get(in, "_format_version");
    json_t *tr = json_object_get(in, "_transform");
    json_t *cm = json_object_get(in, "_comment");
    if (json_object_set(f.out, "_format_version", fv) != 0 ||
        json_object_set_new(f.out, "_transform", json_boolean(!tr || json_is_true(tr))) != 0 ||
        (json_is_string(cm) && json_object_set(f.out, "_comment", cm) != 0))
        goto out;
    *out = f.out;
    f.out = NULL;
    rc = GW_OK;
out:
    if (rc == GW_ERR_INVALID) {
        *err_fields = f.errs;
        f.errs = NULL;
    }
    json_decref(in);
    json_decref(f.out);
    json_decref(f.errs);
    json_decref(f.by_id);
    json_decref(f.by_key);
    json_decref(f.uniq);
    json_decref(f.records);
    json_decref(f.path);
    return rc;
}
