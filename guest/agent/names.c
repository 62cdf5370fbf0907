/* Checks of names and paths the host sends (names.h). */
#include "names.h"
#include "agent.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= ID_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
  return s[0] != '.';
}

/* A path inside a container: absolute, no "..", bounded. */
bool valid_cpath(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 400 || s[0] != '/') return false;
  for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
    if ((p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/')) return false;
  return true;
}

/* A path inside a volume: empty (none), or relative, no "..", bounded. */
bool valid_subpath(const char *s) {
  if (!*s) return true;
  char abs[260];
  if (strlen(s) > 250 || s[0] == '/') return false;
  snprintf(abs, sizeof abs, "/%s", s);
  return valid_cpath(abs);
}

bool valid_hostname(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 63) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.') return false;
  return true;
}

bool valid_token(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr(".:-_/%", s[i])) return false;
  return true;
}

