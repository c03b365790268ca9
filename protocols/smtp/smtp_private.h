/*
 * smtp_private.h - the SMTP server session shared by smtp_session.c (I/O,
 * DATA/BDAT, delivery), smtp_cmd.c (the verbs) and smtp_submit.c (AUTH
 * and the submission rules of RFC 6409).  Not for use outside
 * protocols/smtp.  [loop]
 */
#ifndef SMTP_PRIVATE_H
#define SMTP_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "route.h"
#include "smtp_addr.h"
#include "smtp_parse.h"

struct conf;
struct srs;
struct event;
struct smtp_auth_job;
struct smtp_data;
struct smtp_dlv;
struct filter;
struct store_msg;

#define SMTP_MAX_RCPTS		100	/* RFC 5321 4.5.3.1.8: at least 100 */
#define SMTP_MAX_ERRORS		20	/* then 421 and close */
#define SMTP_HDR_MAX		(256 * 1024)	/* header section kept */
#define SMTP_ID_LEN		16
/* RFC 4954 4: a SASL response line may be up to 12288 octets. */
#define SMTP_AUTH_LINE_MAX	12288

enum smtp_state {
	SMTP_S_CMD = 0,		/* reading command lines */
	SMTP_S_DATA,		/* after 354: message bytes */
	SMTP_S_BDAT,		/* reading a BDAT chunk */
	SMTP_S_AUTH,		/* waiting for a SASL response line */
	SMTP_S_BUSY,		/* a worker job runs; read is off */
	SMTP_S_CLOSING
};

/* One accepted RCPT. */
struct smtp_rcpt {
	char			*addr;		/* as given, canonical form */
	struct route_result	 route;		/* ROUTE_LOCAL only */
	char			**remote;	/* outbound queue targets */
	size_t			 nremote;
	unsigned		 notify;	/* RFC 3461 NOTIFY, for the queue */
	char			*orcpt;		/* RFC 3461 ORCPT "type;addr" or NULL */
};

/* One mail transaction: MAIL .. end of DATA/BDAT or RSET. */
struct smtp_tx {
	char			 id[SMTP_ID_LEN + 1];
	char			 from[SMTP_ADDR_FMT_SIZE];	/* "" for <> */
	bool			 smtputf8;
	enum smtp_body		 body;
	enum smtp_ret		 ret;		/* RFC 3461 RET, for the queue */
	char			 envid[SMTP_ENVID_MAX + 1];	/* ENVID */
	struct smtp_rcpt	 rcpts[SMTP_MAX_RCPTS];
	size_t			 nrcpts;
	/* Message phase. */
	struct smtp_data	*dec;
	struct store_msg	*msg;
	const char		*write_error;	/* store_msg_write failed */
	struct buf		 out;		/* decoder output scratch */
	struct buf		 hdr;		/* header section (submission) */
	bool			 hdr_done;
	bool			 bdat;		/* BDAT used: no DATA */
	bool			 bdat_failed;	/* a chunk was refused */
	bool			 junk;		/* spam verdict: file into Junk */
	struct filter		*filter;	/* mail authentication (filter.h) */
};

struct smtp_session {
	uint64_t		 id;		/* conn_id(); logs, lookups */
	struct conn		*c;
	enum conn_svc		 svc;
	const struct conf	*conf;		/* the generation's */
	const struct route	*route;
	const struct srs	*srs;		/* the generation's, or NULL */
	enum smtp_state		 state;
	bool			 esmtp;		/* EHLO (not HELO) */
	char			 helo[SMTP_ADDR_DOMAIN_MAX + 1];	/* "" none */
	char			*user;		/* authenticated login */
	unsigned		 errors;
	unsigned		 ntx;		/* transactions, for ids */
	bool			 shutdown;	/* 421 at the next command */
	bool			 greeted;	/* the 220 has left our buffer */
	bool			 skip_line;	/* discarding an over-long line */
	struct smtp_tx		*tx;		/* NULL outside MAIL..end */
	/* BDAT chunk being read. */
	uint64_t		 bdat_left;
	bool			 bdat_last;
	bool			 bdat_discard;	/* chunk is read and dropped */
	/* AUTH in progress. */
	struct smtp_auth_job	*auth_job;	/* in flight */
	struct event		*delay_ev;	/* failed-login delay */
	char			*delay_reply;
	struct smtp_dlv		*dlv;		/* delivery in flight */
	struct smtp_cmd		 cmd;		/* parse scratch */
	char			 line[SMTP_AUTH_LINE_MAX + 1];
};

/* smtp_session.c */
void	 smtp_reply(struct smtp_session *, int code, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 smtp_reply_r(struct smtp_session *, const struct smtp_reply *);
void	 smtp_enter(struct smtp_session *, enum smtp_state);
void	 smtp_close(struct smtp_session *);
void	 smtp_resume(struct smtp_session *);
void	 smtp_input(void *);
struct smtp_session *smtp_session_lookup(uint64_t id);
bool	 smtp_is_submission(const struct smtp_session *);
void	 smtp_tx_free(struct smtp_session *);
/* Open the spool file; -1 (logged) and the caller replies 451. */
int	 smtp_msg_begin(struct smtp_session *);

/* smtp_cmd.c */
void	 smtp_cmd_line(struct smtp_session *, const char *line, size_t len);

/* smtp_submit.c */
bool	 smtp_auth_offered(const struct smtp_session *);
void	 smtp_auth_cmd(struct smtp_session *, const struct smtp_cmd *);
void	 smtp_auth_line(struct smtp_session *, const char *line, size_t len);
void	 smtp_auth_free(struct smtp_session *);
/*
 * At end of message, on submission: check From against the login and
 * list the header lines to add (Date, Message-ID) into add.  Returns 0,
 * or -1 with the reply already sent.
 */
int	 smtp_submit_check(struct smtp_session *, struct buf *add);
#endif
