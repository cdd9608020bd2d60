# servers.lib.sh — what the tests of real servers share (sourced after lib.sh, never run by itself):
# starting a server in a session of its own and ending it with its children, waiting for its port,
# the stats directory every worker may write to, and each server's configuration, written for the
# document root $W (the caller sets T and W).

# ---- process handling ------------------------------------------------------------------
# Every server starts in a session of its own (setsid without a fork: its pid is its process
# group), so the trap can end it together with its children (nginx workers) by that id.
SERVERS=()
cleanup() {
	local p
	for p in "${SERVERS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	rm -rf "$ZC_TMP"
	exit $((ZC_FAILS > 0))
}
trap cleanup EXIT

# start_bg LOG ENV... -- CMD... : starts CMD in the background with the ENV settings, own session;
# sets $bg_pid
start_bg() {
	local log=$1 envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# a non-interactive bash starts background jobs with SIGINT and SIGQUIT ignored, and python
	# keeps an inherited SIG_IGN (no KeyboardInterrupt): restore the defaults
	setsid env --default-signal=INT,QUIT "${envs[@]}" "$@" >"$log" 2>&1 </dev/null &
	bg_pid=$!
	SERVERS+=("$bg_pid")
}
# alive PID : the process exists and is not a zombie
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# wait_port PORT PID : up to 10 s for PORT to accept connections while PID lives
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		alive "$2" || return 1
		timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# where_stuck PID : what each thread of a process that would not stop is waiting in (kernel wait
# channel, system call, user stack when gdb is there), for the log of a failure that seldom repeats
where_stuck() {
	local t
	for t in /proc/$1/task/*; do
		echo "  stuck: task ${t##*/} $(cat "$t/stat" 2>/dev/null | cut -d' ' -f3) wchan=$(cat "$t/wchan" 2>/dev/null) syscall=$(cut -d' ' -f1-3 "$t/syscall" 2>/dev/null) $(grep -E '^(SigPnd|SigBlk)' "$t/status" 2>/dev/null | tr -s '\t\n' '  ')"
		sed -n '1,6s/^/  stuck:   /p' "$t/stack" 2>/dev/null
	done
	# the signal sent: pending for the process, ignored or caught (hex masks, bit N-1 is signal N)
	echo "  stuck: $(grep -E '^(ShdPnd|SigIgn|SigCgt)' "/proc/$1/status" 2>/dev/null | tr -s '\t\n' '  ')"
	command -v gdb >/dev/null &&
		timeout 20 gdb -p "$1" -batch -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^(#|Thread)' | head -60 | sed 's/^/  stuck: /'
}
# stop_bg PID SIGNAL : sends SIGNAL, waits up to 20 s for PID to exit (then up to 10 s more, to say
# whether it would have, and SIGKILL to its group) and reaps it; returns 0 if it exited within 20 s
stop_bg() {
	local pid=$1 i t0=$SECONDS
	kill "-$2" "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		alive "$pid" || break
		# a look at 5 s too: a python that stopped slowly was gone by 20 s, and showed nothing
		[ "$i" = 50 ] && echo "  stuck: after 5 s:" && where_stuck "$pid"
		sleep 0.1
	done
	if alive "$pid"; then
		where_stuck "$pid"
		for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
		echo "  stuck: $(alive "$pid" && echo "still running after $((SECONDS - t0)) s, killed" || echo "exited by itself after $((SECONDS - t0)) s")"
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	# a slow stop that still passes is said too: how often it happens tells more than one failure
	[ "$i" -ge 20 ] && echo "  slow stop: pid $pid took $((SECONDS - t0)) s ($((i / 10)).$((i % 10)) s by the polling loop) after SIG$2"
	# nginx workers: give the rest of the group a moment to finish too
	for ((i = 0; i < 50; i++)); do pgrep -g "$pid" >/dev/null || break; sleep 0.1; done
	return 0
}
# stats_dir NAME : a fresh directory every process (root or nobody) may write its stats file in
stats_dir() { local d=$T/st_$1; mkdir -p "$d"; chmod 1777 "$d"; echo "$d"; }
# nginx_conf PORT DIR [on|off [CONNS]] : writes DIR/nginx.conf (sendfile off, 64 connections per
# worker unless said), workers as nobody
nginx_conf() {
	local d=$2
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
user nobody nogroup;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections ${4:-64}; }
http {
	access_log off;
	sendfile ${3:-off};
	client_body_temp_path $d/t_body;
	proxy_temp_path $d/t_proxy;
	fastcgi_temp_path $d/t_fastcgi;
	uwsgi_temp_path $d/t_uwsgi;
	scgi_temp_path $d/t_scgi;
	types { application/octet-stream bin; }
	server { listen 127.0.0.1:$1; root $W; }
}
EOF
}
# apache_conf PORT DIR Off|On : Apache 2.4 as Debian ships it but the sendfile switch (EnableMMAP
# On: mmap + writev), mpm_event, workers as nobody
apache_conf() {
	local d=$2 mods=/usr/lib/apache2/modules
	mkdir -p "$d"
	cat >"$d/httpd.conf" <<EOF
ServerRoot "$d"
PidFile $d/httpd.pid
Listen 127.0.0.1:$1
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
User nobody
Group nogroup
ErrorLog $d/error.log
LogLevel warn
ServerName localhost
Mutex file:$d default
DocumentRoot $W
<Directory $W>
	Require all granted
</Directory>
# Debian's defaults, said out loud
EnableSendfile $3
EnableMMAP On
EOF
}
# vsftpd_conf PORT DIR NO|YES : anonymous downloads of $W, use_sendfile as said, log in DIR
vsftpd_conf() {
	local d=$2
	mkdir -p "$d" /var/run/vsftpd/empty
	cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=$1
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=$W
no_anon_password=YES
secure_chroot_dir=/var/run/vsftpd/empty
use_sendfile=$3
xferlog_enable=NO
vsftpd_log_file=$d/vsftpd.log
EOF
}
# lighttpd_conf PORT DIR write|sendfile : lighttpd serving $W with that network backend
lighttpd_conf() {
	local d=$2
	mkdir -p "$d"
	cat >"$d/lighttpd.conf" <<EOF
server.document-root = "$W"
server.bind = "127.0.0.1"
server.port = $1
server.network-backend = "$3"
server.errorlog = "$d/error.log"
server.pid-file = "$d/lighttpd.pid"
mimetype.assign = ( ".bin" => "application/octet-stream" )
EOF
}
