/* systemd_dropin.c — `zcshim systemd-dropin [--user NAME] UNIT`: prints the drop-in that runs a systemd
 * service under the shim, with the lease right that fits the user the unit runs as (README: Deployments). */
#include "cmds.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char dropin_usage[] = "usage: zcshim systemd-dropin [--user NAME] UNIT\n";

/* What systemd says of the unit; known is 0 when systemctl could not be asked. */
struct unit {
	int known, found, dynamic_user, bounding_has_lease, ambient_has_lease, user_given;
	char user[256];
};

/* has_cap — whether a space-separated list of capability names, as systemctl shows it, holds name. */
static int has_cap(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
	return 0;
}

/* parse_show — reads `systemctl show`'s KEY=VALUE lines into u. */
static void parse_show(char *out, struct unit *u)
{
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, '=');
		if (!v) continue;
		*v++ = 0;
		if (!strcmp(line, "LoadState")) u->found = strcmp(v, "not-found") != 0;
		else if (!strcmp(line, "User")) snprintf(u->user, sizeof u->user, "%s", v);
		else if (!strcmp(line, "DynamicUser")) u->dynamic_user = !strcmp(v, "yes");
		else if (!strcmp(line, "CapabilityBoundingSet")) u->bounding_has_lease = has_cap(v, "cap_lease");
		else if (!strcmp(line, "AmbientCapabilities")) u->ambient_has_lease = has_cap(v, "cap_lease");
	}
}

/* ask_systemd — `systemctl show` of the unit, run directly (no shell: the unit name is the caller's);
 * 0, or -1 when systemctl is absent or cannot talk to systemd (a container, a chroot). */
static int ask_systemd(const char *unit, struct unit *u)
{
	char out[16384];
	size_t len = 0;
	int fds[2], st = 0;
	if (pipe(fds)) return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]), close(fds[1]);
		if (!freopen("/dev/null", "w", stderr)) _exit(127);
		execlp("systemctl", "systemctl", "show", "-p", "LoadState", "-p", "User", "-p", "DynamicUser", "-p",
		       "AmbientCapabilities", "-p", "CapabilityBoundingSet", "--", unit, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (ssize_t n; pid > 0 && len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) != 0;)
		if (n > 0) len += (size_t)n;
		else if (errno != EINTR) break;
	close(fds[0]);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !len) return -1;
	out[len] = 0;
	parse_show(out, u);
	u->known = 1;
	return 0;
}

/* plain_name — a unit or user name that can be written into the drop-in and its path as it is. */
static int plain_name(const char *s)
{
	if (!*s || *s == '-' || strlen(s) > 200) return 0;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') || strchr("_.@:-\\$", *s)))
			return 0;
	return 1;
}

/* lib_path — the library for Environment=; -1 when LD_PRELOAD could not carry it (it splits at spaces
 * and colons) or systemd would read it otherwise ('%' is doubled for its specifiers). */
static int lib_path(char *out, size_t cap)
{
	char lib[PATH_MAX];
	size_t k = 0;
	if (zc_find_lib(lib, sizeof lib)) {
		fprintf(stderr, "zcshim systemd-dropin: cannot find libzcshim.so next to %s\n", zc_self_dir());
		return -1;
	}
	if (strpbrk(lib, " \t\n:\"'\\")) {
		fprintf(stderr, "zcshim systemd-dropin: %s cannot go into LD_PRELOAD (a space, colon, quote or "
				"backslash in its path); install it elsewhere (make install PREFIX=...)\n", lib);
		return -1;
	}
	for (const char *p = lib; *p && k + 2 < cap; p++) {
		if (*p == '%') out[k++] = '%';
		out[k++] = *p;
	}
	out[k] = 0;
	return 0;
}

/* print_caps — the lease right: keep_cap_lease for root units, an ambient CAP_LEASE for the others. */
static void print_caps(const struct unit *u, int root)
{
	if (root) {
		printf("# Runs as root, which may take leases. Workers that drop privileges themselves (nginx, Apache,\n"
		       "# vsftpd) lose every capability at setuid: the shim keeps CAP_LEASE alone for them.\n"
		       "Environment=ZCSHIM_KEEP_CAP_LEASE=on\n");
	} else {
		printf("# Runs as %s: CAP_LEASE as an ambient capability survives execve and keeps LD_PRELOAD honoured\n"
		       "# (file capabilities on the binary would not: the loader then ignores LD_PRELOAD).\n"
		       "AmbientCapabilities=CAP_LEASE\n",
		       u->dynamic_user && !u->user[0] ? "a dynamic user" : u->user);
	}
	/* a bounding-set line in a drop-in is ORed into the unit's own restriction, but on a unit without one
	 * it replaces systemd's full default set: written only where the unit restricts it without CAP_LEASE */
	if (u->known && !u->bounding_has_lease)
		printf("# The unit restricts its capability bounding set; this adds CAP_LEASE to it.\n"
		       "CapabilityBoundingSet=CAP_LEASE\n");
	else if (!u->known)
		printf("# If the unit sets CapabilityBoundingSet=, add CAP_LEASE to that line (a line here alone would\n"
		       "# replace systemd's default, the full set, by CAP_LEASE).\n");
}

/* print_dropin — the whole file, with where it goes and how to apply it as comments. */
static void print_dropin(const char *unit, const struct unit *u, const char *lib)
{
	int root = !u->dynamic_user && (!u->user[0] || !strcmp(u->user, "root") || !strcmp(u->user, "0"));
	const char *from = !u->known ? "user from --user; systemd could not be asked"
			   : !u->found ? "user from --user; systemd does not know the unit yet"
			   : u->user_given ? "user from --user, capabilities read from systemd"
					   : "user and capabilities read from systemd";
	printf("# zcshim drop-in for %s (%s). Save it as\n"
	       "#   /etc/systemd/system/%s.d/zcshim.conf\n"
	       "# then run: systemctl daemon-reload && systemctl restart %s\n"
	       "# and `zcshim stat` lists the unit's processes with their counters.\n",
	       unit, from, unit, unit);
	printf("[Service]\n# (replaces an LD_PRELOAD of the unit's own: then list both, separated by a colon)\n"
	       "Environment=LD_PRELOAD=%s\n", lib);
	print_caps(u, root);
}

int zc_cmd_systemd_dropin(int argc, char **argv)
{
	static const struct option opts[] = {{"user", 1, 0, 'u'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	const char *user = NULL;
	char unit[256], lib[2 * PATH_MAX];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'h': fputs(dropin_usage, stdout); return 0;
		default: fputs(dropin_usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc || !plain_name(argv[optind]) || (user && !plain_name(user))) {
		fputs(dropin_usage, stderr);
		return 2;
	}
	/* as systemctl does: a name without a type is a service */
	snprintf(unit, sizeof unit, "%s%s", argv[optind], strchr(argv[optind], '.') ? "" : ".service");
	struct unit u = {0};
	if (ask_systemd(unit, &u) == 0 && !u.found && !user) {
		fprintf(stderr, "zcshim systemd-dropin: systemd has no unit %s (give --user NAME to write one anyway)\n", unit);
		return 1;
	}
	if (!u.known && !user) {
		fprintf(stderr, "zcshim systemd-dropin: cannot ask systemd about %s here (systemctl missing or systemd not "
				"running); give the user it runs as with --user NAME\n", unit);
		return 1;
	}
	if (user) snprintf(u.user, sizeof u.user, "%s", user), u.dynamic_user = 0, u.user_given = 1; /* overrides User= */
	if (lib_path(lib, sizeof lib)) return 1;
	print_dropin(unit, &u, lib);
	return 0;
}
