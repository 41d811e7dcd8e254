/* cp/declarative/cp_decl_parse.h: reads a declarative configuration text (Kong's kong.yaml in
 * YAML or JSON) into a jansson value. YAML scalars are typed as Kong's YAML loader types them
 * (YAML 1.1 core: null/~, true/false/yes/no/on/off, integers incl. 0x/0o/0b, floats incl.
 * .inf/.nan; quoted scalars and !!str stay strings); anchors, aliases and `<<` merge keys are
 * resolved. Input size, nesting depth and the number of values produced (alias bombs) are
 * bounded.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_PARSE_H
#define CP_DECL_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "gw_err.h"

/* Largest declarative input accepted (bytes). */
#define CP_DECL_MAX_INPUT (64u * 1024u * 1024u)
/* Deepest nesting of mappings/sequences accepted. */
#define CP_DECL_MAX_DEPTH 64

enum cp_decl_format {
    CP_DECL_FORMAT_AUTO = 0, /* JSON when the text starts with '{' and parses as JSON, else YAML */
    CP_DECL_FORMAT_YAML,
    CP_DECL_FORMAT_JSON,
    CP_DECL_FORMAT_COUNT_ /* keep last */
};

/* Parses len bytes of text (borrowed; need not be NUL-terminated) in format fmt.
 * On success returns GW_OK and *out = the document (owned; json_decref). An empty YAML document
 * gives JSON null. On failure returns GW_ERR_INVALID (syntax, or a limit: the message says
 * which, with line and column when known), GW_ERR_TOOBIG (len > CP_DECL_MAX_INPUT) or
 * GW_ERR_NOMEM, and writes a message into err[errlen]. Any thread. */
enum gw_err cp_decl_parse(const char *text, size_t len, enum cp_decl_format fmt, json_t **out,
                          char *err, size_t errlen);

/* Reads a whole file (at most CP_DECL_MAX_INPUT bytes) and parses it; the format comes from the
 * extension (.json = JSON, .yml/.yaml = YAML, anything else AUTO). Errors as above, plus
 * GW_ERR_IO when the file cannot be read. Any thread. */
enum gw_err cp_decl_parse_file(const char *path, json_t **out, char *err, size_t errlen);

/* Classifies a plain (unquoted, untagged) YAML scalar the way the reader does: returns a new
 * JSON value (owned) of the resolved type (null, true/false, integer, real or string). The
 * exporter uses it to decide which strings must be quoted. s is borrowed. NULL only when out of
 * memory. Any thread. */
json_t *cp_decl_yaml_plain_scalar(const char *s, size_t len);

#endif
