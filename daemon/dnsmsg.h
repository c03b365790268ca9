/*
 * dnsmsg.h - DNS wire format without I/O: query (and test response)
 * encoding with EDNS0, strict response decoding.
 *
 * RFC 1035 4.1 (message format), 4.1.4 (compression), 3.3 (RR data),
 * RFC 3596 2.2 (AAAA), RFC 6891 6 (OPT pseudo-RR), RFC 4035 3.2.3 and
 * RFC 6840 5.7 (AD bit), RFC 2308 5 (negative caching TTL).
 * Names are in presentation form without the trailing dot; octets outside
 * 0x21-0x7e, and '.' or '\' inside a label, are written as "\DDD"
 * (RFC 1035 5.1), and accepted in that form (and as "\X") on input.
 * Pure functions on caller buffers or on objects the caller owns.  [any]
 */
#ifndef DNSMSG_H
#define DNSMSG_H
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RR types (RFC 1035 3.2.2, RFC 3596 2.1, RFC 6891 6.1.1, RFC 6698 7.1). */
#define DNSMSG_T_A	1
#define DNSMSG_T_NS	2
#define DNSMSG_T_CNAME	5
#define DNSMSG_T_SOA	6
#define DNSMSG_T_PTR	12
#define DNSMSG_T_MX	15
#define DNSMSG_T_TXT	16
#define DNSMSG_T_AAAA	28
#define DNSMSG_T_OPT	41
#define DNSMSG_T_TLSA	52

#define DNSMSG_C_IN	1

/* Response codes (RFC 1035 4.1.1; above 15 only with EDNS, RFC 6891 6.1.3). */
#define DNSMSG_R_NOERROR	0
#define DNSMSG_R_FORMERR	1
#define DNSMSG_R_SERVFAIL	2
#define DNSMSG_R_NXDOMAIN	3
#define DNSMSG_R_NOTIMP		4
#define DNSMSG_R_REFUSED	5

/* Header flag bits as in the second 16-bit word (RFC 1035 4.1.1). */
#define DNSMSG_F_QR	0x8000
#define DNSMSG_F_AA	0x0400
#define DNSMSG_F_TC	0x0200
#define DNSMSG_F_RD	0x0100
#define DNSMSG_F_RA	0x0080
#define DNSMSG_F_AD	0x0020
#define DNSMSG_F_CD	0x0010

#define DNSMSG_UDP_SIZE	1232	/* RFC 6891 6.2.5; DNS flag day 2020 */
#define DNSMSG_MAX_WIRE	255	/* a name on the wire, RFC 1035 2.3.4 */
#define DNSMSG_MAX_LABEL 63
/* A presentation name: 255 wire octets, each at most "\DDD". */
#define DNSMSG_NAME_MAX	1024

/*
 * One resource record, decoded.  Strings are NUL-terminated and owned by
 * the struct dnsmsg (or whoever copied it).  rdata is always the raw RDATA
 * (names inside it may still be compressed pointers: use the typed fields).
 */
struct dnsmsg_rr {
	char		*name;		/* owner */
	uint16_t	 type;
	uint16_t	 rclass;
	uint32_t	 ttl;		/* clamped to 2^31-1 (RFC 2181 8) */
	/* TXT: every character-string joined, NUL octets replaced by 0x01. */
	char		*txt;
	size_t		 txtlen;
	uint16_t	 pref;		/* MX */
	char		*host;		/* MX exchange, PTR, CNAME, NS, SOA mname */
	struct in_addr	 a;
	struct in6_addr	 aaaa;
	uint32_t	 soa_minimum;	/* SOA */
	uint8_t		*rdata;
	uint16_t	 rdlen;
};

struct dnsmsg;			/* a decoded message (opaque) */
struct dnsmsg_out;		/* a message being encoded (opaque) */

/* [any] A 16-bit id from the OpenSSL CSPRNG (RFC 5452 4.3). */
uint16_t	 dnsmsg_random_id(void);

/*
 * [any] Encode a recursive query (RD, and AD per RFC 6840 5.7) for
 * name/type/IN into buf; with edns an OPT RR advertising
 * DNSMSG_UDP_SIZE is added (RFC 6891 6.1.2).  -1 and a static reason
 * when the name is invalid or buf too small.
 */
int		 dnsmsg_query(const char *name, uint16_t type, uint16_t id,
		    bool edns, uint8_t *buf, size_t size, size_t *len_r,
		    const char **error_r);

/*
 * [any] Decode a message.  Every length and pointer is checked against
 * the packet; compression pointers must point backwards (RFC 1035 4.1.4
 * "a prior occurrence"), so loops are impossible, and names are limited
 * to 255 octets.  At most one question (RFC 1035 4.1.2 in practice) and
 * one OPT RR (RFC 6891 6.1.1).  -1 with a static reason otherwise.
 */
int		 dnsmsg_decode(const uint8_t *, size_t, struct dnsmsg **msg_r,
		    const char **error_r);
void		 dnsmsg_free(struct dnsmsg **);

uint16_t	 dnsmsg_id(const struct dnsmsg *);
uint16_t	 dnsmsg_flags(const struct dnsmsg *);	/* DNSMSG_F_* bits */
/* The rcode including the EDNS extended bits (RFC 6891 6.1.3). */
int		 dnsmsg_rcode(const struct dnsmsg *);
bool		 dnsmsg_has_edns(const struct dnsmsg *);
/* The question: false when there is none. */
bool		 dnsmsg_question(const struct dnsmsg *, const char **name_r,
		    uint16_t *type_r, uint16_t *class_r);
size_t		 dnsmsg_count(const struct dnsmsg *, int section);	/* 1..3 */
const struct dnsmsg_rr *dnsmsg_get_rr(const struct dnsmsg *, int section,
		    size_t i);
#define DNSMSG_S_ANSWER		1
#define DNSMSG_S_AUTHORITY	2
#define DNSMSG_S_ADDITIONAL	3

/*
 * [any] The answer to name/type: follow CNAMEs from name through the
 * answer section (at most 16 hops), then collect the records
 * of type owned by the final name (RFC 1034 3.6.2, 4.3.2).  Returns the
 * number found (0..n, written to rrs_r up to max) and sets *canon_r to the
 * final name (owned by msg).  type DNSMSG_T_CNAME returns the CNAME itself.
 * Only class IN records count.
 */
size_t		 dnsmsg_answers(const struct dnsmsg *, const char *name,
		    uint16_t type, const struct dnsmsg_rr **rrs_r, size_t max,
		    const char **canon_r);
/*
 * [any] TTL for a negative answer: min(SOA TTL, SOA MINIMUM) of the SOA in
 * the authority section (RFC 2308 5), or -1 when there is none.
 */
int64_t		 dnsmsg_negative_ttl(const struct dnsmsg *);

/* [any] Case-insensitive name equality (RFC 4343), ignoring a final dot. */
bool		 dnsmsg_name_eq(const char *, const char *);

/*
 * [any] "4.3.2.1.in-addr.arpa" / nibble "...ip6.arpa" (RFC 1035 3.5,
 * RFC 3596 2.5) for an AF_INET or AF_INET6 address (IPv4-mapped IPv6 is
 * treated as IPv4), and the same reversed form under another zone for
 * DNSBLs (RFC 5782 2.1, 2.4).  -1 when buf is too small or the family is
 * not supported.
 */
int		 dnsmsg_ptr_name(const struct sockaddr *, char *buf, size_t size);
int		 dnsmsg_rev_name(const struct sockaddr *, const char *zone,
		    char *buf, size_t size);

/*
 * [any] A response encoder with name compression, used by the query
 * encoder, tests and fuzz round trips.  Sizes are capped at 65535 octets;
 * any failure is sticky and reported by dnsmsg_out_data().
 */
struct dnsmsg_out *dnsmsg_out_new(uint16_t id, uint16_t flags, int rcode);
int		 dnsmsg_out_question(struct dnsmsg_out *, const char *name,
		    uint16_t type, uint16_t rclass);
/* A typed RR: rdata is built from rr's typed fields for A, AAAA, MX, TXT
 * (txt as one or more 255-octet strings), PTR, CNAME, NS, SOA; otherwise
 * from rr->rdata.  rr->name, ->type, ->rclass (0: IN), ->ttl are used. */
int		 dnsmsg_out_rr(struct dnsmsg_out *, int section,
		    const struct dnsmsg_rr *rr);
/* TXT with explicit character-strings (n strings of given lengths). */
int		 dnsmsg_out_txt(struct dnsmsg_out *, int section,
		    const char *name, uint32_t ttl, const char *const *strs,
		    const size_t *lens, size_t n);
/* An OPT RR (RFC 6891 6.1.2): payload size and the extended rcode bits. */
int		 dnsmsg_out_opt(struct dnsmsg_out *, uint16_t udp_size,
		    uint8_t ext_rcode);
/* Set or clear header flags after the fact (e.g. TC when truncating). */
void		 dnsmsg_out_set_flags(struct dnsmsg_out *, uint16_t flags);
/* NULL and a static reason after any error. */
const uint8_t	*dnsmsg_out_data(struct dnsmsg_out *, size_t *len_r,
		    const char **error_r);
void		 dnsmsg_out_free(struct dnsmsg_out **);
#endif
