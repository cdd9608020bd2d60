/* hints.c — what to do about the fallback reason that cost the most bytes (zcshim run, zcshim stat). */
#include "hints.h"

#include <stdio.h>
#include <string.h>

/* One hint per reason: what the reason means for this program, then what to do. */
static const char *const hints[ZC_NCOUNTERS] = {
	[ZC_fb_mode_off] = "mode = off (ZCSHIM_MODE, --mode, zcshim.conf): the shim only counted; the default, auto, rewrites.",
	[ZC_fb_dest_kind] = "the writes went to terminals, eventfds or devices, not to sockets, pipes or files: nothing to gain there.",
	[ZC_fb_unix_socket] = "the writes went to AF_UNIX sockets, left alone by default (a read() receiver gets half the\n"
			      "        throughput from a zero-copy sender); unix_sockets = on if yours is not such a receiver.",
	[ZC_fb_small] = "the writes were smaller than the kernel path pays for (min_bytes_tcp/pipe/file, defer_min_bytes in\n"
			"        zcshim.conf). Lower them only where `zcshim bench --chunks SIZE` shows a gain at your size.",
	[ZC_fb_no_record] = "no write came from a buffer filled by a file read: the program moves other data, or reads files\n"
			    "        another way (see `zcshim inspect`).",
	[ZC_fb_dirty] = "the program changed its buffers between the read and the write (it encodes or patches the data):\n"
			"        those bytes exist only in its memory, nothing to do.",
	[ZC_fb_stale_source] = "the file read from was closed, replaced or moved on before the write: nothing to do.",
	[ZC_fb_flags] = "the writes carried send flags, an address, control data or more than 16 vectors, which are left\n"
			"        to the program.",
	[ZC_fb_append] = "the destination was opened O_APPEND, which the kernel copy cannot append to: nothing to do.",
	[ZC_fb_multi_writer] = "several threads wrote to the same sockets; writes of a header and file data together are kept\n"
			       "        as one call so their order holds. Nothing to do short of one writer per socket.",
	[ZC_fb_lease_denied] = "read leases were denied, so those files were not rewritten. Workers that drop privileges\n"
			       "        themselves (nginx, Apache, vsftpd): --keep-cap-lease. A service started as its user:\n"
			       "        CAP_LEASE as an ambient capability (`zcshim systemd-dropin UNIT`, or setpriv --inh-caps\n"
			       "        +lease --ambient-caps +lease; not setcap: the loader would ignore LD_PRELOAD). Or serve\n"
			       "        files it owns, or --lease prefer (no protection against other writers). README: Deployments.",
	[ZC_fb_lease_broken] = "other processes opened the files for writing while they were sent (lease breaks): those\n"
			       "        writes came from the program's memory, as they must. Nothing to do.",
	[ZC_fb_lease_inherited] = "forked children wrote data read under their parent's lease, which the child cannot hold:\n"
				  "        reads done in the child itself are rewritten.",
	[ZC_fb_kernel_einval] = "the kernel refused sendfile/splice/copy_file_range between these files and destinations\n"
				"        (filesystem or socket type): log_level = info names them. Nothing to do in zcshim.",
	[ZC_fb_kernel_enosys] = "this kernel lacks a call the rewrite needs (sendfile, splice or copy_file_range).",
	[ZC_fb_kernel_exdev] = "copy_file_range refused to copy across these filesystems, and sendfile could not either.",
	[ZC_fb_kernel_other] = "the kernel refused the transfers with an unexpected error: log_level = info shows it.",
	[ZC_fb_same_file] = "the program copies a file onto itself: left to the program.",
	[ZC_fb_no_interior] = "the reads did not cover a whole page of the buffer (small or unaligned): nothing to skip copying.",
	[ZC_fb_table_full] = "more buffers or source files were live at once than the shim's tables hold: the overflow was\n"
			     "        copied as usual.",
	[ZC_fb_proc_source] = "the data came from /proc or /sys files, whose sizes the kernel path cannot trust: nothing to do.",
	[ZC_fb_mixed] = "a header and file data in one write to a pipe or file, which must stay one call: nothing to do.",
	[ZC_fb_stack_buffer] = "the reads went into buffers on the stack, which are not guarded by default; see stack_buffers\n"
			       "        in zcshim.conf before turning it on.",
	[ZC_fb_probation] = "the first chunk of each stream is written as usual until the stream shows a copy loop: the\n"
			    "        program moves many short files of one chunk each. Nothing to gain for those.",
	[ZC_fb_no_guard] = "the buffers could not be guarded (shared memory, or no userfaultfd here: see guard_none and\n"
			   "        README \"How a touch is detected\").",
	[ZC_fb_forking] = "reads raced a fork and were copied as usual: nothing to do.",
};

enum zc_counter zc_hint_reason(const uint64_t *v)
{
	enum zc_counter best = ZC_NCOUNTERS;
	uint64_t most = 0, most_n = 0;
	/* the most bytes decide; between reasons that wrote nothing (or equal bytes), the most writes */
	for (int i = ZC_fb_mode_off; i <= ZC_fb_forking; i++) {
		uint64_t b = v[zc_fb_bytes((enum zc_counter)i)], n = v[i];
		if (n && (b > most || (b == most && n > most_n))) best = (enum zc_counter)i, most = b, most_n = n;
	}
	return best;
}

const char *zc_hint_text(enum zc_counter reason)
{
	return reason < ZC_NCOUNTERS ? hints[reason] : NULL;
}

void zc_hint_print(FILE *out, const uint64_t *v)
{
	enum zc_counter r = zc_hint_reason(v);
	const char *t = zc_hint_text(r);
	if (!t) return;
	uint64_t b = v[zc_fb_bytes(r)], all = zc_written_bytes(v);
	if (b < all / 10) return; /* under a tenth of the bytes written: not what decides the outcome */
	fprintf(out, "  hint (%s: %llu writes, %llu bytes passed through):\n        %s\n", zc_counter_names[r] + 3,
		(unsigned long long)v[r], (unsigned long long)b, t);
}
