/* Self test of the agent's JSON parser: valid documents parse, hostile ones are rejected
 * without crashing (run by `make -C guest test`, which the TS test tier calls). */
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static jarena A;

int main(void) {
  const char *ok = "{\"op\":\"exec\",\"n\":42,\"a\":[1,\"x\\u00e9\\ud83d\\ude00\"],\"b\":true,\"o\":{\"k\":null}}";
  jnode *r = json_parse(&A, ok, strlen(ok));
  CHECK(r && r->type == J_OBJ);
  CHECK(strcmp(jstr(r, "op", ""), "exec") == 0);
  bool good = true;
  CHECK(jint(r, "n", 0, 0, 100, &good) == 42 && good);
  CHECK(jint(r, "n", 7, 0, 10, &good) == 7 && !good);
  CHECK(jbool(r, "b", false));
  jnode *a = jarr(r, "a");
  CHECK(a && a->len == 2 && strcmp(a->child->next->str, "x\xc3\xa9\xf0\x9f\x98\x80") == 0);
  const char *bad[] = { "", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"\\u0000\"", "\"\\ud800\"", "01", "1e999",
                        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "{\"a\":1} x",
                        "\"abc", "tru", "\"\x01\"" };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(json_parse(&A, bad[i], strlen(bad[i])) == NULL);
  /* Random bytes never crash the parser. */
  char buf[512];
  srand(1);
  for (int i = 0; i < 200000; i++) {
    size_t n = (size_t)(rand() % (int)sizeof buf);
    for (size_t j = 0; j < n; j++) buf[j] = "{}[]\",:0123456789.eE-+tfnul\\ax "[rand() % 32];
    (void)json_parse(&A, buf, n);
  }
  /* Too many nodes. */
  size_t big = 3 * JSON_MAX_NODES + 8;
  char *many = malloc(big);
  size_t l = 0;
  many[l++] = '[';
  for (int i = 0; i < JSON_MAX_NODES + 2; i++) { many[l++] = '1'; many[l++] = ','; }
  many[l - 1] = ']';
  CHECK(json_parse(&A, many, l) == NULL);
  free(many);
  jwriter w;
  jw_init(&w, 1024);
  jw_begin_obj(&w);
  jw_str(&w, "s", "q\"\n");
  jw_int(&w, "i", -5);
  jw_begin_arr(&w, "a");
  jw_obj_in_arr(&w);
  jw_bool(&w, "b", true);
  jw_end_obj(&w);
  jw_end_arr(&w);
  jw_end_obj(&w);
  CHECK(!w.failed && strcmp(w.buf, "{\"s\":\"q\\u0022\\u000a\",\"i\":-5,\"a\":[{\"b\":true}]}") == 0);
  jw_free(&w);
  json_free(&A);
  if (failures) return 1;
  printf("json-test: ok\n");
  return 0;
}
