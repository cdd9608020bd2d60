/* stats_json.c — reads the shim's per-process JSON stats files through json-c (a maintained
 * parser), so that the tools do not depend on the writer's line layout. */
#include "stats_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stats file is a few KiB; anything past this is not one. */
#define STATS_FILE_MAX (1 << 20)

/* slurp — the whole file at path in a malloc'ed NUL-terminated buffer; NULL with errno set. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = f ? malloc(STATS_FILE_MAX + 1) : NULL;
	size_t n = 0;
	int e;

	if (!buf) {
		e = errno;
		if (f)
			fclose(f);
		errno = e;
		return NULL;
	}
	n = fread(buf, 1, STATS_FILE_MAX + 1, f);
	e = ferror(f) ? EIO : n > STATS_FILE_MAX ? EFBIG : 0;
	fclose(f);
	if (e) {
		free(buf);
		errno = e;
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* counter_value — a count: a JSON integer 0..2^64-1; -1 for anything else. */
static int counter_value(struct json_object *o, uint64_t *out)
{
	if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
		return -1;
	*out = json_object_get_uint64(o);
	return 0;
}

int zc_stats_json_read(const char *path, uint64_t v[ZC_NCOUNTERS], char *mode, size_t mode_cap,
		       char *err, size_t err_cap)
{
	struct json_tokener *tok;
	struct json_object *root = NULL, *counters, *m;
	size_t len = 0;
	char *text;
	int found = 0;

	memset(v, 0, sizeof(uint64_t) * ZC_NCOUNTERS);
	if (mode && mode_cap)
		mode[0] = 0;
	text = slurp(path, &len);
	if (!text) {
		snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	tok = json_tokener_new();
	if (tok) {
		/* strict: standard JSON only, and nothing but white space after the object */
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		root = json_tokener_parse_ex(tok, text, (int)len);
		if (!root)
			snprintf(err, err_cap, "%s is not a stats file: %s at byte %zu", path,
				 json_tokener_get_error(tok) == json_tokener_continue ? "unexpected end" :
				 json_tokener_error_desc(json_tokener_get_error(tok)),
				 json_tokener_get_parse_end(tok));
		json_tokener_free(tok);
	} else {
		snprintf(err, err_cap, "cannot parse %s: out of memory", path);
	}
	free(text);
	if (!root)
		return -1;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "counters", &counters) ||
	    !json_object_is_type(counters, json_type_object)) {
		snprintf(err, err_cap, "%s is not a stats file: no \"counters\" object", path);
		json_object_put(root);
		return -1;
	}
	json_object_object_foreach(counters, name, val) {
		uint64_t n;
		int i;
		for (i = 0; i < ZC_NCOUNTERS && strcmp(name, zc_counter_names[i]); i++)
			;
		if (i == ZC_NCOUNTERS)
			continue;
		if (counter_value(val, &n)) {
			snprintf(err, err_cap, "%s is not a stats file: counter \"%s\" is %s, not a count",
				 path, name, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
			json_object_put(root);
			return -1;
		}
		v[i] = n;
		found++;
	}
	if (mode && mode_cap && json_object_object_get_ex(root, "mode", &m) &&
	    json_object_is_type(m, json_type_string))
		snprintf(mode, mode_cap, "%s", json_object_get_string(m));
	json_object_put(root);
	return found;
}
