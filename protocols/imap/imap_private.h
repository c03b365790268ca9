/*
 * imap_private.h - the layout of struct imap_session and what the
 * imap_session.c / imap_cmd_*.c files share.  Not part of the IMAP API.
 * [loop] for everything declared here.
 */
#ifndef IMAP_PRIVATE_H
#define IMAP_PRIVATE_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "imap_parse.h"
#include "store.h"

struct buf;
struct conf;
struct sockaddr;
struct event;
struct imap_auth_job;
struct imap_compress;
struct imap_fetch;
struct store_watch;

#define IMAP_AUTOLOGOUT		(30 * 60)	/* RFC 9051 5.4: >= 30 min */
#define IMAP_OUT_HIGH		(256 * 1024)	/* pause FETCH output above */
#define IMAP_READ_CHUNK		16384

enum imap_state {
	IMAP_S_NOTAUTH = 0,	/* RFC 9051 3.1 */
	IMAP_S_AUTH,		/* 3.2 */
	IMAP_S_SELECTED,	/* 3.3 */
	IMAP_S_LOGOUT		/* 3.4 */
};

enum imap_mode {
	IMAP_M_CMD = 0,		/* reading commands */
	IMAP_M_BUSY,		/* a command waits for a job or the output */
	IMAP_M_SASL,		/* AUTHENTICATE: reading response lines */
	IMAP_M_IDLE		/* IDLE: waiting for DONE */
};

/* One message of the selected mailbox: sequence number = index + 1. */
struct imap_msg {
	uint32_t	 uid;
	uint32_t	 flags;		/* STORE_F_* */
	uint64_t	 keywords;	/* bit i: keyword id i of the mailbox */
};

struct imap_session {
	struct conn		*c;
	uint64_t		 id;
	enum conn_svc		 svc;
	const struct conf	*conf;
	struct store		*store;
	enum imap_state		 state;
	enum imap_mode		 mode;
	bool			 shutdown;
	bool			 in_input;	/* imap_input is on the stack */
	bool			 loopback;	/* peer on 127/8 or ::1 */
	struct imap_parser	*parser;
	struct imap_cmd		*cmd;		/* the command running */
	char			*user;		/* after login */
	char			*userip;	/* "user\0ip" key, counted */
	size_t			 userip_len;
	bool			 enabled_utf8;
	bool			 condstore;	/* RFC 7162 3.1: MODSEQ in FETCH */
	bool			 qresync;	/* RFC 7162 3.2.3: VANISHED */
	struct imap_compress	*z;		/* COMPRESS=DEFLATE active */
	/* AUTHENTICATE / LOGIN */
	struct imap_auth_job	*auth;
	struct event		*delay_ev;
	/* Selected state */
	char			*mbox;		/* UTF-8 name */
	bool			 readonly;
	uint32_t		 uidvalidity;
	uint32_t		 uidnext;
	uint64_t		 kwdefined;	/* keyword ids in the last FLAGS */
	struct imap_msg		*msgs;
	size_t			 nmsgs;
	struct store_watch	*watch;
	bool			 changed;	/* the watch fired */
	struct event		*idle_ev;	/* deferred IDLE update */
	uint32_t		*searchres;	/* RFC 5182 "$", ascending UIDs */
	size_t			 nsearchres;
	/* FETCH in progress (paused for output) */
	struct imap_fetch	*fetch;
	/* data for the command running asynchronously */
	void			*op;
	void			(*op_free)(void *);
};

typedef void imap_cmd_fn(struct imap_session *, struct imap_cmd *);

/* imap_session.c */
struct imap_session *imap_session_lookup(uint64_t id);
bool	 imap_addr_loopback(const struct sockaddr *);	/* [any] */
/* TLS active or a loopback peer: plain-text logins allowed. */
bool	 imap_secured(const struct imap_session *);
void	 imap_tagged(struct imap_session *, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 imap_untagged(struct imap_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Enter BUSY: stop reading until imap_cmd_finish. */
void	 imap_busy(struct imap_session *);
/* End the running command (frees it) and read on. */
void	 imap_cmd_finish(struct imap_session *);
void	 imap_close(struct imap_session *);
/*
 * A job's argument naming the session by id (store callbacks take a
 * void *); imap_job_session frees it and returns the live session or NULL.
 */
void	*imap_job_arg(struct imap_session *);
struct imap_session *imap_job_session(void *arg);
/* The generic store completion: tagged OK/NO, finish the command. */
void	 imap_job_done_ok(void *arg, int result, const char *error);
/* Read again and process buffered input (mode unchanged). */
void	 imap_resume(struct imap_session *);
void	 imap_capability_line(struct imap_session *, struct buf *);
/*
 * After a successful authentication: -1 if the user already has
 * max_connections_per_user sessions from this address (tagged NO
 * [LIMIT] sent, the session stays unauthenticated), else 0.
 */
int	 imap_logged_in(struct imap_session *, const char *user);
/* Parser limits for the state and UTF8=ACCEPT (RFC 6855 3). */
void	 imap_limits_update(struct imap_session *);
/* Arguments helpers */
bool	 imap_args_n(struct imap_cmd *, size_t n);
/* Mailbox argument (modified UTF-7) -> UTF-8 name; NULL and BAD sent. */
char	*imap_mailbox_arg(struct imap_session *, const struct imap_arg *);
/* UTF-8 name -> wire form (quoted string) appended to out. */
void	 imap_mailbox_out(struct imap_session *, const char *name,
	    struct buf *out);
/*
 * "(\Seen $Forwarded ...)": system flags, then the keywords whose bits
 * are set (names from store_view_keywords; NULL: none).
 */
void	 imap_flags_out(uint32_t flags, uint64_t keywords,
	    const char *const *names, struct buf *out);
/*
 * The FLAGS and PERMANENTFLAGS responses (RFC 9051 7.3.5, 7.1) with the
 * mailbox's keywords and "\*" when it can define more.
 */
void	 imap_flags_announce(struct imap_session *, const char *const *names);
/* System flag name -> STORE_F_*; 0 for keywords and \\Recent. */
uint32_t imap_flag_bit(const char *name);

/* imap_cmd_auth.c */
void	 imap_cmd_login(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_authenticate(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_starttls(struct imap_session *, struct imap_cmd *);
void	 imap_auth_line(struct imap_session *, char *line, size_t len);
void	 imap_auth_free(struct imap_session *);

/* imap_cmd_any.c */
void	 imap_cmd_capability(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_noop(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_logout(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_id(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_namespace(struct imap_session *, struct imap_cmd *);

/* imap_cmd_mbox.c */
void	 imap_cmd_list(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_create(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_delete(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_rename(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_subscribe(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_status(struct imap_session *, struct imap_cmd *);

/* imap_cmd_select.c */
void	 imap_cmd_select(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_close(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_check(struct imap_session *, struct imap_cmd *);
void	 imap_unselect(struct imap_session *);
/* Compare the view with the index; send EXISTS/FETCH (and EXPUNGE). */
void	 imap_view_refresh(struct imap_session *, bool expunges);
/*
 * Sequence set or UID set argument -> sorted UIDs of the view; "$" is
 * the saved search result (RFC 5182 2.2).  -1: invalid, -2: a sequence
 * number beyond EXISTS.
 */
int	 imap_view_uids(struct imap_session *, const struct imap_arg *,
	    bool uid, uint32_t **uids_r, size_t *n_r);
/* Index of uid in the view, or -1. */
long	 imap_view_find(const struct imap_session *, uint32_t uid);

/* imap_cmd_fetch.c */
void	 imap_cmd_fetch(struct imap_session *, struct imap_cmd *);
void	 imap_fetch_drained(struct imap_session *);
void	 imap_fetch_free(struct imap_session *);

/* imap_cmd_store.c */
void	 imap_cmd_store(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_expunge(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_append(struct imap_session *, struct imap_cmd *);

/* imap_cmd_search.c */
void	 imap_cmd_search(struct imap_session *, struct imap_cmd *);
/* RFC 5182 "$": the saved UIDs still in the view (malloced, may be 0). */
void	 imap_cmd_search_saved(struct imap_session *, uint32_t **uids_r,
	    size_t *n_r);
/*
 * A search program with the view's message data from the index, for
 * SORT and THREAD to match on their worker.  job_new [loop]: parse the
 * search keys args[0..nargs) and take the snapshot; NULL after BAD or
 * NO was sent.  The session must stay BUSY while a worker matches.
 */
struct imap_sjob;
struct imap_sjob *imap_cmd_search_job_new(struct imap_session *,
	    const struct imap_arg *args, size_t nargs);
/* [any] Messages to test: the view's, in sequence order. */
size_t	 imap_cmd_search_job_count(const struct imap_sjob *);
/*
 * [worker] (it may read the message file) Test message i: its index
 * data and sequence number go to *mi_r and *seq_r.  *data_r gets the
 * whole message file if matching read it (the caller frees it), else
 * NULL.
 */
bool	 imap_cmd_search_job_match_blocking(struct imap_sjob *, size_t i,
	    struct store_msginfo *mi_r, uint32_t *seq_r, char **data_r,
	    size_t *len_r);
/* [loop] Debug line "imap <what> match=worker|loop msgs= files= hits=". */
void	 imap_cmd_search_job_log(const struct imap_sjob *, uint64_t sid,
	    const char *what, size_t hits);
void	 imap_cmd_search_job_free(struct imap_sjob **);	/* [any] */

/* imap_cmd_copy.c: COPY, MOVE, UID COPY, UID MOVE (RFC 6851). */
void	 imap_cmd_copy_move(struct imap_session *, struct imap_cmd *);

/* imap_cmd_sort.c: SORT and THREAD (RFC 5256, RFC 5957). */
void	 imap_cmd_sort(struct imap_session *, struct imap_cmd *);
void	 imap_cmd_sort_thread(struct imap_session *, struct imap_cmd *);

/* imap_thread.c: RFC 5256 base subject, dates, threading.  [any] */
struct imap_thread_msg {
	uint32_t	 num;		/* sequence number or UID printed */
	int64_t		 date;		/* sent date (RFC 5256 2.2) */
	const char	*subject;	/* base subject, case-folded */
	bool		 reply;		/* Re:/Fwd: was removed (2.1) */
	const char	*msgid;		/* without <>, or NULL */
	char *const	*refs;		/* References, else In-Reply-To */
	size_t		 nrefs;
};
void	 imap_thread_base_subject(const char *raw, size_t len,
	    struct buf *out, bool *reply_r);
/*
 * Length of the header section at the start of d[0..len): up to and
 * including the first CRLF CRLF, else the first LF LF, looked for only
 * before the first NUL byte; len when there is neither.
 */
size_t	 imap_thread_hdr_len(const char *d, size_t len);
int	 imap_thread_date(const char *s, size_t len, int64_t *date_r);
void	 imap_thread_msgids(const char *s, size_t len, char ***ids_r,
	    size_t *n_r);
void	 imap_thread_orderedsubject(struct imap_thread_msg *, size_t n,
	    struct buf *out);
void	 imap_thread_references(struct imap_thread_msg *, size_t n,
	    struct buf *out);

/*
 * imap_compress.c: the output layer and COMPRESS=DEFLATE (RFC 4978).
 * All IMAP output goes through imap_out_*, which deflate once COMPRESS
 * is active; the macros below route every imap_*.c writer there.
 */
void	 imap_cmd_compress(struct imap_session *, struct imap_cmd *);
int	 imap_compress_read(struct imap_session *, char *buf, size_t len);
void	 imap_compress_flush(struct imap_session *);
void	 imap_compress_free(struct imap_session *);
void	 imap_out_write(struct conn *, const void *, size_t);
void	 imap_out_puts(struct conn *, const char *);
void	 imap_out_printf(struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_out_vprintf(struct conn *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 imap_out_close(struct conn *);
#define conn_write	imap_out_write
#define conn_puts	imap_out_puts
#define conn_printf	imap_out_printf
#define conn_vprintf	imap_out_vprintf
#define conn_close	imap_out_close

/* imap_cmd_select.c: ENABLE (RFC 5161) with CONDSTORE and QRESYNC. */
void	 imap_cmd_enable_ext(struct imap_session *, struct imap_cmd *);

/* imap_cmd_mbox.c: QUOTA (RFC 9208 4.2, 4.3), SETQUOTA refused. */
void	 imap_cmd_getquota(struct imap_session *, struct imap_cmd *);

/* imap_cmd_idle.c */
void	 imap_cmd_idle(struct imap_session *, struct imap_cmd *);
void	 imap_idle_line(struct imap_session *, char *line, size_t len);
void	 imap_watch_fired(void *arg);
#endif
