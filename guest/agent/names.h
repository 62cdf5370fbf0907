/* Checks of names and paths the host sends: ids, container paths, tokens, hostnames. */
#ifndef H8S_NAMES_H
#define H8S_NAMES_H
#include <stdbool.h>
#include <stddef.h>

/* A container or exec id: [A-Za-z0-9._-], not starting with a dot, shorter than ID_MAX. */
bool valid_id(const char *s);
/* A path inside a container: absolute, no "..", bounded. */
bool valid_cpath(const char *s);
/* A subPath of a volume: "" (none) or relative without "..", at most 250 bytes. */
bool valid_subpath(const char *s);
/* A device serial, address, route or sysctl name: [A-Za-z0-9.:-_/%], 1..max characters. */
bool valid_token(const char *s, size_t max);
bool valid_hostname(const char *h);

#endif
