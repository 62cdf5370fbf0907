/* See json.h. Strict RFC 8259 subset: no comments, no trailing commas, UTF-8 passed through,
 * \u escapes decoded to UTF-8 (surrogate pairs joined), \u0000 rejected. */
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

typedef struct {
  jarena *a;
  const char *p, *end;
  int depth;
} jparser;

static void ws(jparser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static jnode *newnode(jparser *ps, jtype t) {
  if (ps->a->used >= JSON_MAX_NODES) {
    ps->a->error = "too many values";
    return NULL;
  }
  jnode *n = &ps->a->nodes[ps->a->used++];
  memset(n, 0, sizeof *n);
  n->type = t;
  return n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(jparser *ps, unsigned *out) {
  if (ps->end - ps->p < 4) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(ps->p[i]);
    if (h < 0) return -1;
    v = v * 16 + (unsigned)h;
  }
  ps->p += 4;
  *out = v;
  return 0;
}

/* Parses a string at ps->p (on the opening quote); returns the decoded copy. */
static const char *parse_string(jparser *ps, size_t *outlen) {
  jarena *a = ps->a;
  ps->p++; /* quote */
  char *dst = a->strbuf + a->strused;
  size_t n = 0;
  while (ps->p < ps->end) {
    unsigned char c = (unsigned char)*ps->p++;
    if (c == '"') {
      dst[n] = 0;
      a->strused += n + 1;
      *outlen = n;
      return dst;
    }
    if (c < 0x20) {
      a->error = "control character in string";
      return NULL;
    }
    if (c != '\\') {
      dst[n++] = (char)c;
      continue;
    }
    if (ps->p >= ps->end) break;
    char e = *ps->p++;
    switch (e) {
    case '"': dst[n++] = '"'; break;
    case '\\': dst[n++] = '\\'; break;
    case '/': dst[n++] = '/'; break;
    case 'b': dst[n++] = '\b'; break;
    case 'f': dst[n++] = '\f'; break;
    case 'n': dst[n++] = '\n'; break;
    case 'r': dst[n++] = '\r'; break;
    case 't': dst[n++] = '\t'; break;
    case 'u': {
      unsigned cp;
      if (read_hex4(ps, &cp) < 0) { a->error = "bad \\u escape"; return NULL; }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') { a->error = "lone surrogate"; return NULL; }
        ps->p += 2;
        if (read_hex4(ps, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) { a->error = "bad surrogate pair"; return NULL; }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        a->error = "lone surrogate";
        return NULL;
      }
      if (cp == 0) { a->error = "NUL in string"; return NULL; }
      /* A \u escape is 6 input bytes and decodes to at most 4 output bytes, so the output
       * never outgrows the input-sized buffer. */
      if (cp < 0x80) dst[n++] = (char)cp;
      else if (cp < 0x800) { dst[n++] = (char)(0xC0 | (cp >> 6)); dst[n++] = (char)(0x80 | (cp & 0x3F)); }
      else if (cp < 0x10000) {
        dst[n++] = (char)(0xE0 | (cp >> 12)); dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[n++] = (char)(0x80 | (cp & 0x3F));
      } else {
        dst[n++] = (char)(0xF0 | (cp >> 18)); dst[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); dst[n++] = (char)(0x80 | (cp & 0x3F));
      }
      break;
    }
    default: a->error = "bad escape"; return NULL;
    }
  }
  a->error = "unterminated string";
  return NULL;
}

static jnode *parse_value(jparser *ps);

static jnode *parse_container(jparser *ps, bool obj) {
  if (++ps->depth > JSON_MAX_DEPTH) { ps->a->error = "nested too deeply"; return NULL; }
  jnode *n = newnode(ps, obj ? J_OBJ : J_ARR);
  if (!n) return NULL;
  ps->p++;
  ws(ps);
  jnode **tail = &n->child;
  char close = obj ? '}' : ']';
  if (ps->p < ps->end && *ps->p == close) { ps->p++; ps->depth--; return n; }
  for (;;) {
    const char *key = NULL;
    if (obj) {
      ws(ps);
      if (ps->p >= ps->end || *ps->p != '"') { ps->a->error = "expected member name"; return NULL; }
      size_t kl;
      key = parse_string(ps, &kl);
      if (!key) return NULL;
      ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') { ps->a->error = "expected ':'"; return NULL; }
      ps->p++;
    }
    jnode *v = parse_value(ps);
    if (!v) return NULL;
    v->key = key;
    *tail = v;
    tail = &v->next;
    n->len++;
    ws(ps);
    if (ps->p >= ps->end) { ps->a->error = "unexpected end"; return NULL; }
    if (*ps->p == ',') { ps->p++; continue; }
    if (*ps->p == close) { ps->p++; break; }
    ps->a->error = "expected ',' or end of container";
    return NULL;
  }
  ps->depth--;
  return n;
}

static jnode *parse_number(jparser *ps) {
  const char *s = ps->p;
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) { ps->a->error = "bad number"; return NULL; }
  if (*ps->p == '0') ps->p++;
  else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) { ps->a->error = "bad number"; return NULL; }
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) { ps->a->error = "bad number"; return NULL; }
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  char tmp[64];
  size_t l = (size_t)(ps->p - s);
  if (l >= sizeof tmp) { ps->a->error = "number too long"; return NULL; }
  memcpy(tmp, s, l);
  tmp[l] = 0;
  jnode *n = newnode(ps, J_NUM);
  if (!n) return NULL;
  n->num = strtod(tmp, NULL);
  if (!isfinite(n->num)) { ps->a->error = "number out of range"; return NULL; }
  return n;
}

static bool lit(jparser *ps, const char *w) {
  size_t l = strlen(w);
  if ((size_t)(ps->end - ps->p) < l || memcmp(ps->p, w, l) != 0) return false;
  ps->p += l;
  return true;
}

static jnode *parse_value(jparser *ps) {
  ws(ps);
  if (ps->p >= ps->end) { ps->a->error = "unexpected end"; return NULL; }
  switch (*ps->p) {
  case '{': return parse_container(ps, true);
  case '[': return parse_container(ps, false);
  case '"': {
    jnode *n = newnode(ps, J_STR);
    if (!n) return NULL;
    n->str = parse_string(ps, &n->len);
    return n->str ? n : NULL;
  }
  case 't': if (lit(ps, "true")) return newnode(ps, J_TRUE); break;
  case 'f': if (lit(ps, "false")) return newnode(ps, J_FALSE); break;
  case 'n': if (lit(ps, "null")) return newnode(ps, J_NULL); break;
  default: return parse_number(ps);
  }
  ps->a->error = "unexpected token";
  return NULL;
}

jnode *json_parse(jarena *a, const char *text, size_t len) {
  a->used = 0;
  a->error = NULL;
  a->strused = 0;
  if (a->strcap < len + 1) {
    char *nb = realloc(a->strbuf, len + 1);
    if (!nb) { a->error = "out of memory"; return NULL; }
    a->strbuf = nb;
    a->strcap = len + 1;
  }
  jparser ps = { a, text, text + len, 0 };
  jnode *root = parse_value(&ps);
  if (!root) return NULL;
  ws(&ps);
  if (ps.p != ps.end) { a->error = "trailing data"; return NULL; }
  return root;
}

void json_free(jarena *a) {
  free(a->strbuf);
  a->strbuf = NULL;
  a->strcap = 0;
}

jnode *jget(const jnode *obj, const char *key) {
  if (!obj || obj->type != J_OBJ) return NULL;
  jnode *found = NULL;
  for (jnode *c = obj->child; c; c = c->next)
    if (c->key && strcmp(c->key, key) == 0) found = c; /* last one wins, as JSON.parse */
  return found;
}

const char *jstr(const jnode *obj, const char *key, const char *def) {
  jnode *n = jget(obj, key);
  return n && n->type == J_STR ? n->str : def;
}

int64_t jint(const jnode *obj, const char *key, int64_t def, int64_t min, int64_t max, bool *ok) {
  jnode *n = jget(obj, key);
  if (!n || n->type == J_NULL) return def;
  if (n->type != J_NUM || n->num != floor(n->num) || n->num < (double)min || n->num > (double)max) {
    if (ok) *ok = false;
    return def;
  }
  return (int64_t)n->num;
}

bool jbool(const jnode *obj, const char *key, bool def) {
  jnode *n = jget(obj, key);
  if (!n) return def;
  if (n->type == J_TRUE) return true;
  if (n->type == J_FALSE) return false;
  return def;
}

jnode *jarr(const jnode *obj, const char *key) {
  jnode *n = jget(obj, key);
  return n && n->type == J_ARR ? n : NULL;
}

jnode *jobj(const jnode *obj, const char *key) {
  jnode *n = jget(obj, key);
  return n && n->type == J_OBJ ? n : NULL;
}

/* ---- writer ---- */

void jw_init(jwriter *w, size_t max) {
  memset(w, 0, sizeof *w);
  w->max = max;
}

void jw_free(jwriter *w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}

void jw_raw(jwriter *w, const char *s, size_t n) {
  if (w->failed) return;
  if (w->len + n + 1 > w->max) { w->failed = true; return; }
  if (w->len + n + 1 > w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 512;
    while (nc < w->len + n + 1) nc *= 2;
    if (nc > w->max) nc = w->max;
    char *nb = realloc(w->buf, nc);
    if (!nb) { w->failed = true; return; }
    w->buf = nb;
    w->cap = nc;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = 0;
}

static void sep(jwriter *w) {
  if (w->need_comma) jw_raw(w, ",", 1);
  w->need_comma = true;
}

static void quoted(jwriter *w, const char *s, size_t n) {
  jw_raw(w, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
      jw_raw(w, s + start, i - start);
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      jw_raw(w, esc, 6);
      start = i + 1;
    }
  }
  jw_raw(w, s + start, n - start);
  jw_raw(w, "\"", 1);
}

void jw_key(jwriter *w, const char *key) {
  sep(w);
  if (key) {
    quoted(w, key, strlen(key));
    jw_raw(w, ":", 1);
  }
}

void jw_begin_obj(jwriter *w) {
  jw_raw(w, "{", 1);
  w->need_comma = false;
}

void jw_end_obj(jwriter *w) {
  jw_raw(w, "}", 1);
  w->need_comma = true;
}

void jw_begin_arr(jwriter *w, const char *key) {
  jw_key(w, key);
  jw_raw(w, "[", 1);
  w->need_comma = false;
}

void jw_end_arr(jwriter *w) {
  jw_raw(w, "]", 1);
  w->need_comma = true;
}

void jw_obj_in_arr(jwriter *w) {
  sep(w);
  jw_raw(w, "{", 1);
  w->need_comma = false;
}

void jw_strn(jwriter *w, const char *key, const char *value, size_t n) {
  jw_key(w, key);
  quoted(w, value, n);
}

void jw_str(jwriter *w, const char *key, const char *value) {
  jw_strn(w, key, value ? value : "", value ? strlen(value) : 0);
}

void jw_int(jwriter *w, const char *key, int64_t value) {
  char tmp[32];
  int l = snprintf(tmp, sizeof tmp, "%lld", (long long)value);
  jw_key(w, key);
  jw_raw(w, tmp, (size_t)l);
}

void jw_bool(jwriter *w, const char *key, bool value) {
  jw_key(w, key);
  jw_raw(w, value ? "true" : "false", value ? 4 : 5);
}
