/* A small, strict JSON parser (into a bounded arena) and writer for the agent's messages.
 * Untrusted input: depth, node count and string sizes are bounded; any error rejects the document. */
#ifndef H8S_JSON_H
#define H8S_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jnode {
  jtype type;
  const char *key;     /* member name when the parent is an object (NUL-terminated) */
  const char *str;     /* J_STR: decoded, NUL-terminated (embedded NULs are rejected) */
  size_t len;          /* J_STR: length; J_ARR/J_OBJ: number of children */
  double num;
  struct jnode *child; /* first child */
  struct jnode *next;  /* next sibling */
} jnode;

#define JSON_MAX_NODES 8192
#define JSON_MAX_DEPTH 32

typedef struct {
  jnode nodes[JSON_MAX_NODES];
  size_t used;
  char *strbuf; /* decoded strings; at most the input size */
  size_t strcap, strused;
  const char *error;
} jarena;

/* Parses `len` bytes; returns the root or NULL (arena->error says why). The arena's string
 * buffer is (re)allocated to fit; call json_free to release it. */
jnode *json_parse(jarena *a, const char *text, size_t len);
void json_free(jarena *a);

jnode *jget(const jnode *obj, const char *key);
const char *jstr(const jnode *obj, const char *key, const char *def);
/* Integer member within [min, max]; def when absent; *ok=false when present but invalid. */
int64_t jint(const jnode *obj, const char *key, int64_t def, int64_t min, int64_t max, bool *ok);
bool jbool(const jnode *obj, const char *key, bool def);
jnode *jarr(const jnode *obj, const char *key); /* NULL unless an array */
jnode *jobj(const jnode *obj, const char *key); /* NULL unless an object */

/* Writer into a growable buffer with a hard cap; on overflow `failed` is set. */
typedef struct {
  char *buf;
  size_t len, cap, max;
  bool failed;
  bool need_comma;
} jwriter;

void jw_init(jwriter *w, size_t max);
void jw_free(jwriter *w);
void jw_raw(jwriter *w, const char *s, size_t n);
void jw_begin_obj(jwriter *w);
void jw_end_obj(jwriter *w);
void jw_begin_arr(jwriter *w, const char *key);
void jw_end_arr(jwriter *w);
void jw_key(jwriter *w, const char *key);
void jw_str(jwriter *w, const char *key, const char *value);
void jw_strn(jwriter *w, const char *key, const char *value, size_t n);
void jw_int(jwriter *w, const char *key, int64_t value);
void jw_bool(jwriter *w, const char *key, bool value);
void jw_obj_in_arr(jwriter *w); /* begins an object element inside an array */

#endif
