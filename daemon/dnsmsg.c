/*
 * dnsmsg.c - DNS message encoding and strict decoding (RFC 1035 4.1,
 * RFC 3596, RFC 6891), and the reverse-name helpers.
 *
 * Owns nothing beyond the objects it returns: a struct dnsmsg holds copies
 * of every decoded name and rdata, so the packet may be freed at once.
 * The decoder trusts no count, length or pointer: every read is checked
 * against the end of the packet or of the RDATA, compression pointers must
 * point strictly before the previous jump target (so they cannot loop),
 * and a name is at most 255 wire octets.  No I/O, no globals; any thread.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "dnsmsg.h"
#include "xmalloc.h"

#define HDR_LEN		12
#define MAX_HOPS	64	/* compression pointers per name */
#define MAX_CNAME	16	/* CNAME chain in one answer */
#define COMP_SLOTS	64	/* names remembered for output compression */

struct dnsmsg {
	uint16_t		 id;
	uint16_t		 flags;
	int			 rcode;
	bool			 edns;
	bool			 has_q;
	char			*qname;
	uint16_t		 qtype;
	uint16_t		 qclass;
	struct dnsmsg_rr	*sec[3];
	size_t			 n[3];
};

struct comp_slot {
	uint16_t		 off;
	uint8_t			 len;
	uint8_t			 wire[DNSMSG_MAX_WIRE];
};

struct dnsmsg_out {
	uint8_t			*buf;
	size_t			 len;
	size_t			 cap;
	uint16_t		 count[4];	/* qd, an, ns, ar */
	int			 section;	/* last section written */
	const char		*error;
	struct comp_slot	*comp;
	size_t			 ncomp;
};

uint16_t
dnsmsg_random_id(void)
{
	uint16_t	 id;

	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		abort();	/* no entropy: the environment is broken */
	return id;
}

/*
 * Presentation name to uncompressed wire form (with the root label), RFC
 * 1035 3.1 and 5.1.  "" and "." are the root.
 */
static int
name_to_wire(const char *name, uint8_t *out, size_t *len_r,
    const char **error_r)
{
	size_t		 o = 0, lstart;
	const char	*p = name;
	unsigned	 v;

	if (strcmp(p, ".") == 0)
		p++;
	while (*p != '\0') {
		lstart = o++;
		if (*p == '.') {
			*error_r = "empty label in name";
			return -1;
		}
		while (*p != '\0' && *p != '.') {
			if (*p == '\\') {
				p++;
				if (p[0] >= '0' && p[0] <= '9' &&
				    p[1] >= '0' && p[1] <= '9' &&
				    p[2] >= '0' && p[2] <= '9') {
					v = (unsigned)(p[0] - '0') * 100 +
					    (unsigned)(p[1] - '0') * 10 +
					    (unsigned)(p[2] - '0');
					if (v > 255) {
						*error_r = "bad \\DDD escape";
						return -1;
					}
					p += 3;
				} else if (*p != '\0')
					v = (unsigned char)*p++;
				else {
					*error_r = "name ends in backslash";
					return -1;
				}
			} else
				v = (unsigned char)*p++;
			if (o - lstart - 1 >= DNSMSG_MAX_LABEL) {
				*error_r = "label longer than 63 octets";
				return -1;
			}
			if (o >= DNSMSG_MAX_WIRE - 1) {
				*error_r = "name longer than 255 octets";
				return -1;
			}
			out[o++] = (uint8_t)v;
		}
		out[lstart] = (uint8_t)(o - lstart - 1);
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	*len_r = o;
	return 0;
}

/* Append one label's octets in presentation form. */
static size_t
label_to_text(const uint8_t *l, size_t n, char *out, size_t o)
{
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (l[i] > 0x20 && l[i] < 0x7f && l[i] != '.' &&
		    l[i] != '\\')
			out[o++] = (char)l[i];
		else {
			snprintf(out + o, 5, "\\%03u", l[i]);
			o += 4;
		}
	}
	return o;
}

/*
 * Read a possibly compressed name at *pos (RFC 1035 4.1.4).  On success
 * *pos is just past the name as it appears at *pos (past the first
 * pointer, if any).  out must hold DNSMSG_NAME_MAX octets.
 */
static int
read_name(const uint8_t *pkt, size_t len, size_t *pos, char *out,
    const char **error_r)
{
	size_t		 p = *pos, limit = *pos, wire = 0, o = 0;
	unsigned	 hops = 0, c, target;
	bool		 jumped = false;

	for (;;) {
		if (p >= len) {
			*error_r = "name runs past end of message";
			return -1;
		}
		c = pkt[p];
		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len) {
				*error_r = "truncated compression pointer";
				return -1;
			}
			target = ((c & 0x3f) << 8) | pkt[p + 1];
			if (target >= limit || ++hops > MAX_HOPS) {
				*error_r = "compression pointer not backwards";
				return -1;
			}
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			limit = p = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			*error_r = "unknown label type";
			return -1;
		}
		if (c == 0) {
			if (!jumped)
				*pos = p + 1;
			break;
		}
		if (c > len - p - 1) {
			*error_r = "label runs past end of message";
			return -1;
		}
		wire += 1 + c;
		if (wire + 1 > DNSMSG_MAX_WIRE) {
			*error_r = "name longer than 255 octets";
			return -1;
		}
		if (o > 0)
			out[o++] = '.';
		o = label_to_text(pkt + p + 1, c, out, o);
		p += 1 + c;
	}
	out[o] = '\0';
	return 0;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

/* A name that must fill the RDATA from *pos exactly to end. */
static int
rdata_name(const uint8_t *pkt, size_t end, size_t *pos, char **host_r,
    bool exact, const char **error_r)
{
	char		 name[DNSMSG_NAME_MAX];

	/* Pointers may leave the RDATA, but the name itself may not. */
	if (read_name(pkt, end, pos, name, error_r) == -1)
		return -1;
	if (exact && *pos != end) {
		*error_r = "junk after name in RDATA";
		return -1;
	}
	*host_r = xstrdup(name);
	return 0;
}

/* RFC 1035 3.3 (CNAME, MX, NS, PTR, SOA, TXT), 3.4.1 (A), RFC 3596 2.2. */
static int
decode_rdata(const uint8_t *pkt, size_t start, size_t end,
    struct dnsmsg_rr *rr, const char **error_r)
{
	size_t		 pos = start, rdlen = end - start, n, o;
	char		*mname = NULL, *rname = NULL;

	if (rr->rclass != DNSMSG_C_IN && rr->type != DNSMSG_T_OPT)
		return 0;		/* kept raw */
	switch (rr->type) {
	case DNSMSG_T_A:
		if (rdlen != 4)
			goto bad;
		memcpy(&rr->a, pkt + start, 4);
		break;
	case DNSMSG_T_AAAA:
		if (rdlen != 16)
			goto bad;
		memcpy(&rr->aaaa, pkt + start, 16);
		break;
	case DNSMSG_T_MX:
		if (rdlen < 3)
			goto bad;
		rr->pref = get16(pkt + start);
		pos += 2;
		return rdata_name(pkt, end, &pos, &rr->host, true, error_r);
	case DNSMSG_T_CNAME:
	case DNSMSG_T_PTR:
	case DNSMSG_T_NS:
		return rdata_name(pkt, end, &pos, &rr->host, true, error_r);
	case DNSMSG_T_SOA:
		if (rdata_name(pkt, end, &pos, &mname, false, error_r) == -1)
			return -1;
		if (rdata_name(pkt, end, &pos, &rname, false, error_r) == -1) {
			free(mname);
			return -1;
		}
		free(rname);
		rr->host = mname;
		if (end - pos != 20)
			goto bad;
		rr->soa_minimum = get32(pkt + pos + 16);
		break;
	case DNSMSG_T_TXT:
		/* One or more <character-string>s filling the RDATA. */
		if (rdlen == 0)
			goto bad;
		for (n = 0; pos < end; pos += 1 + pkt[pos]) {
			if (pkt[pos] > end - pos - 1)
				goto bad;
			n += pkt[pos];
		}
		rr->txt = xmalloc(n + 1);
		for (pos = start, o = 0; pos < end; pos += 1 + pkt[pos]) {
			memcpy(rr->txt + o, pkt + pos + 1, pkt[pos]);
			o += pkt[pos];
		}
		rr->txt[n] = '\0';
		for (o = 0; o < n; o++)
			if (rr->txt[o] == '\0')
				rr->txt[o] = 0x01;
		rr->txtlen = n;
		break;
	default:
		break;
	}
	return 0;
bad:
	*error_r = "malformed RDATA";
	return -1;
}

static void
rr_clear(struct dnsmsg_rr *rr)
{
	free(rr->name);
	free(rr->txt);
	free(rr->host);
	free(rr->rdata);
}

static int
read_rr(const uint8_t *pkt, size_t len, size_t *pos, struct dnsmsg_rr *rr,
    const char **error_r)
{
	char		 name[DNSMSG_NAME_MAX];
	size_t		 rdlen;

	if (read_name(pkt, len, pos, name, error_r) == -1)
		return -1;
	if (len - *pos < 10) {
		*error_r = "truncated RR header";
		return -1;
	}
	rr->name = xstrdup(name);
	rr->type = get16(pkt + *pos);
	rr->rclass = get16(pkt + *pos + 2);
	rr->ttl = get32(pkt + *pos + 4);
	rdlen = get16(pkt + *pos + 8);
	*pos += 10;
	if (rdlen > len - *pos) {
		*error_r = "RDATA runs past end of message";
		return -1;
	}
	rr->rdlen = (uint16_t)rdlen;
	rr->rdata = rdlen > 0 ? xmemdup(pkt + *pos, rdlen) : xcalloc(1, 1);
	if (decode_rdata(pkt, *pos, *pos + rdlen, rr, error_r) == -1)
		return -1;
	/* RFC 2181 8: a TTL with the top bit set is read as zero. */
	if (rr->type != DNSMSG_T_OPT && rr->ttl > 0x7fffffffU)
		rr->ttl = 0;
	*pos += rdlen;
	return 0;
}

int
dnsmsg_decode(const uint8_t *pkt, size_t len, struct dnsmsg **msg_r,
    const char **error_r)
{
	struct dnsmsg		*m;
	struct dnsmsg_rr	*rr;
	char			 name[DNSMSG_NAME_MAX];
	size_t			 pos = HDR_LEN, count, i;
	int			 s, nopt = 0;

	*msg_r = NULL;
	if (len < HDR_LEN) {
		*error_r = "message shorter than header";
		return -1;
	}
	if (len > 65535) {
		*error_r = "message longer than 65535 octets";
		return -1;
	}
	m = xcalloc(1, sizeof(*m));
	m->id = get16(pkt);
	m->flags = get16(pkt + 2);
	m->rcode = m->flags & 0xf;
	if (get16(pkt + 4) > 1) {
		*error_r = "more than one question";
		goto fail;
	}
	if (get16(pkt + 4) == 1) {
		if (read_name(pkt, len, &pos, name, error_r) == -1)
			goto fail;
		if (len - pos < 4) {
			*error_r = "truncated question";
			goto fail;
		}
		m->has_q = true;
		m->qname = xstrdup(name);
		m->qtype = get16(pkt + pos);
		m->qclass = get16(pkt + pos + 2);
		pos += 4;
	}
	for (s = 0; s < 3; s++) {
		count = get16(pkt + 6 + 2 * s);
		/* Each RR takes at least 11 octets: bound the allocation. */
		if (count > (len - pos) / 11) {
			*error_r = "RR count exceeds message size";
			goto fail;
		}
		m->sec[s] = xcalloc(count > 0 ? count : 1, sizeof(*rr));
		for (i = 0; i < count; i++) {
			rr = &m->sec[s][i];
			m->n[s] = i + 1;
			if (read_rr(pkt, len, &pos, rr, error_r) == -1)
				goto fail;
			if (rr->type != DNSMSG_T_OPT)
				continue;
			/* RFC 6891 6.1.1: one OPT, owner root, additional. */
			if (s != 2 || ++nopt > 1 || rr->name[0] != '\0') {
				*error_r = "misplaced or repeated OPT RR";
				goto fail;
			}
			m->edns = true;
			m->rcode |= (int)((rr->ttl >> 24) << 4);
		}
	}
	/* Trailing octets are tolerated (RFC 1035 does not forbid padding). */
	*msg_r = m;
	return 0;
fail:
	dnsmsg_free(&m);
	return -1;
}

void
dnsmsg_free(struct dnsmsg **mp)
{
	struct dnsmsg	*m = *mp;
	size_t		 i;
	int		 s;

	if (m == NULL)
		return;
	for (s = 0; s < 3; s++) {
		for (i = 0; i < m->n[s]; i++)
			rr_clear(&m->sec[s][i]);
		free(m->sec[s]);
	}
	free(m->qname);
	free(m);
	*mp = NULL;
}

uint16_t
dnsmsg_id(const struct dnsmsg *m)
{
	return m->id;
}

uint16_t
dnsmsg_flags(const struct dnsmsg *m)
{
	return m->flags;
}

int
dnsmsg_rcode(const struct dnsmsg *m)
{
	return m->rcode;
}

bool
dnsmsg_has_edns(const struct dnsmsg *m)
{
	return m->edns;
}

bool
dnsmsg_question(const struct dnsmsg *m, const char **name_r,
    uint16_t *type_r, uint16_t *class_r)
{
	if (!m->has_q)
		return false;
	if (name_r != NULL)
		*name_r = m->qname;
	if (type_r != NULL)
		*type_r = m->qtype;
	if (class_r != NULL)
		*class_r = m->qclass;
	return true;
}

size_t
dnsmsg_count(const struct dnsmsg *m, int section)
{
	if (section < 1 || section > 3)
		return 0;
	return m->n[section - 1];
}

const struct dnsmsg_rr *
dnsmsg_get_rr(const struct dnsmsg *m, int section, size_t i)
{
	if (section < 1 || section > 3 || i >= m->n[section - 1])
		return NULL;
	return &m->sec[section - 1][i];
}

bool
dnsmsg_name_eq(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.' && (la < 2 || a[la - 2] != '\\'))
		la--;
	if (lb > 0 && b[lb - 1] == '.' && (lb < 2 || b[lb - 2] != '\\'))
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

size_t
dnsmsg_answers(const struct dnsmsg *m, const char *name, uint16_t type,
    const struct dnsmsg_rr **rrs_r, size_t max, const char **canon_r)
{
	const struct dnsmsg_rr	*rr, *cname;
	const char		*cur = name;
	size_t			 i, n;
	unsigned		 hops;

	for (hops = 0; ; hops++) {
		n = 0;
		cname = NULL;
		for (i = 0; i < m->n[0]; i++) {
			rr = &m->sec[0][i];
			if (rr->rclass != DNSMSG_C_IN ||
			    !dnsmsg_name_eq(rr->name, cur))
				continue;
			if (rr->type == type) {
				if (n < max)
					rrs_r[n] = rr;
				n++;
			} else if (rr->type == DNSMSG_T_CNAME && cname == NULL)
				cname = rr;
		}
		if (n > 0 || cname == NULL || hops >= MAX_CNAME)
			break;
		cur = cname->host;
	}
	if (canon_r != NULL)
		*canon_r = cur;
	return n;
}

int64_t
dnsmsg_negative_ttl(const struct dnsmsg *m)
{
	const struct dnsmsg_rr	*rr;
	size_t			 i;

	for (i = 0; i < m->n[1]; i++) {
		rr = &m->sec[1][i];
		if (rr->type == DNSMSG_T_SOA && rr->rclass == DNSMSG_C_IN)
			return rr->ttl < rr->soa_minimum ? rr->ttl :
			    rr->soa_minimum;
	}
	return -1;
}

static const struct in_addr *
v4_of(const struct sockaddr *sa)
{
	const struct sockaddr_in6	*s6;

	if (sa->sa_family == AF_INET)
		return &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (sa->sa_family != AF_INET6)
		return NULL;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return NULL;
	return (const struct in_addr *)(const void *)&s6->sin6_addr.s6_addr[12];
}

int
dnsmsg_rev_name(const struct sockaddr *sa, const char *zone, char *buf,
    size_t size)
{
	const struct in_addr	*a4;
	const uint8_t		*b;
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0, need;
	int			 i;

	if ((a4 = v4_of(sa)) != NULL) {
		b = (const uint8_t *)a4;
		i = snprintf(buf, size, "%u.%u.%u.%u.%s", b[3], b[2], b[1],
		    b[0], zone);
		return i < 0 || (size_t)i >= size ? -1 : 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	need = 64 + strlen(zone) + 1;
	if (size < need)
		return -1;
	for (i = 15; i >= 0; i--) {
		buf[o++] = hex[b[i] & 0xf];
		buf[o++] = '.';
		buf[o++] = hex[b[i] >> 4];
		buf[o++] = '.';
	}
	memcpy(buf + o, zone, strlen(zone) + 1);
	return 0;
}

int
dnsmsg_ptr_name(const struct sockaddr *sa, char *buf, size_t size)
{
	return dnsmsg_rev_name(sa, v4_of(sa) != NULL ? "in-addr.arpa" :
	    "ip6.arpa", buf, size);
}

/* Encoder. */

struct dnsmsg_out *
dnsmsg_out_new(uint16_t id, uint16_t flags, int rcode)
{
	struct dnsmsg_out	*o;

	o = xcalloc(1, sizeof(*o));
	o->cap = 512;
	o->buf = xcalloc(1, o->cap);
	o->len = HDR_LEN;
	o->buf[0] = id >> 8;
	o->buf[1] = id & 0xff;
	flags = (uint16_t)((flags & ~0xfu) | (rcode & 0xf));
	o->buf[2] = flags >> 8;
	o->buf[3] = flags & 0xff;
	o->comp = xcalloc(COMP_SLOTS, sizeof(*o->comp));
	return o;
}

void
dnsmsg_out_set_flags(struct dnsmsg_out *o, uint16_t flags)
{
	uint16_t	 f = get16(o->buf + 2);

	f = (uint16_t)((f & 0xf) | (flags & ~0xfu));
	o->buf[2] = f >> 8;
	o->buf[3] = f & 0xff;
}

static int
out_put(struct dnsmsg_out *o, const void *p, size_t n)
{
	if (o->error != NULL)
		return -1;
	if (n > 65535 - o->len) {
		o->error = "message longer than 65535 octets";
		return -1;
	}
	if (o->len + n > o->cap) {
		while (o->len + n > o->cap)
			o->cap *= 2;
		o->buf = xrealloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static int
out_16(struct dnsmsg_out *o, uint16_t v)
{
	uint8_t		 b[2] = { v >> 8, v & 0xff };

	return out_put(o, b, 2);
}

static int
out_32(struct dnsmsg_out *o, uint32_t v)
{
	uint8_t		 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
			    v & 0xff };

	return out_put(o, b, 4);
}

/*
 * Write a name, pointing at the longest suffix written before (4.1.4).
 * Suffixes match octet for octet, so the case of every name survives.
 */
static int
out_name(struct dnsmsg_out *o, const char *name, bool compress)
{
	uint8_t		 w[DNSMSG_MAX_WIRE];
	size_t		 wlen, p, k, start = o->len, hit = SIZE_MAX;
	uint16_t	 ptr = 0;

	if (o->error != NULL)
		return -1;
	if (name_to_wire(name, w, &wlen, &o->error) == -1)
		return -1;
	for (p = 0; compress && w[p] != 0 && hit == SIZE_MAX; p += 1 + w[p])
		for (k = 0; k < o->ncomp; k++)
			if (o->comp[k].len == wlen - p &&
			    memcmp(o->comp[k].wire, w + p, wlen - p) == 0) {
				hit = p;
				ptr = o->comp[k].off;
				break;
			}
	if (hit == SIZE_MAX) {
		if (out_put(o, w, wlen) == -1)
			return -1;
		hit = wlen - 1;
	} else if (out_put(o, w, hit) == -1 ||
	    out_16(o, (uint16_t)(0xc000 | ptr)) == -1)
		return -1;
	for (p = 0; p < hit && o->ncomp < COMP_SLOTS; p += 1 + w[p]) {
		if (start + p >= 0x3fff)
			break;
		o->comp[o->ncomp].off = (uint16_t)(start + p);
		o->comp[o->ncomp].len = (uint8_t)(wlen - p);
		memcpy(o->comp[o->ncomp].wire, w + p, wlen - p);
		o->ncomp++;
	}
	return 0;
}

static int
out_section(struct dnsmsg_out *o, int section)
{
	if (o->error != NULL)
		return -1;
	if (section < o->section || section < 0 || section > 3) {
		o->error = "sections out of order";
		return -1;
	}
	if (o->count[section] == 0xffff) {
		o->error = "too many records";
		return -1;
	}
	o->section = section;
	o->count[section]++;
	return 0;
}

int
dnsmsg_out_question(struct dnsmsg_out *o, const char *name, uint16_t type,
    uint16_t rclass)
{
	if (out_section(o, 0) == -1 || out_name(o, name, true) == -1 ||
	    out_16(o, type) == -1 || out_16(o, rclass) == -1)
		return -1;
	return 0;
}

/* Patch the RDLENGTH written at mark once the RDATA is out. */
static int
out_rdlen(struct dnsmsg_out *o, size_t mark)
{
	size_t		 n;

	if (o->error != NULL)
		return -1;
	n = o->len - mark - 2;
	o->buf[mark] = (uint8_t)(n >> 8);
	o->buf[mark + 1] = n & 0xff;
	return 0;
}

int
dnsmsg_out_rr(struct dnsmsg_out *o, int section, const struct dnsmsg_rr *rr)
{
	size_t		 mark, off, n;
	uint8_t		 l;

	if (out_section(o, section) == -1 || out_name(o, rr->name, true) == -1 ||
	    out_16(o, rr->type) == -1 ||
	    out_16(o, rr->rclass ? rr->rclass : DNSMSG_C_IN) == -1 ||
	    out_32(o, rr->ttl) == -1)
		return -1;
	mark = o->len;
	if (out_16(o, 0) == -1)
		return -1;
	switch (rr->type) {
	case DNSMSG_T_A:
		out_put(o, &rr->a, 4);
		break;
	case DNSMSG_T_AAAA:
		out_put(o, &rr->aaaa, 16);
		break;
	case DNSMSG_T_MX:
		out_16(o, rr->pref);
		out_name(o, rr->host, true);
		break;
	case DNSMSG_T_PTR:
	case DNSMSG_T_CNAME:
	case DNSMSG_T_NS:
		out_name(o, rr->host, true);
		break;
	case DNSMSG_T_SOA:
		out_name(o, rr->host, true);
		out_name(o, "hostmaster.invalid", true);
		out_32(o, 1);
		out_32(o, 3600);
		out_32(o, 600);
		out_32(o, 86400);
		out_32(o, rr->soa_minimum);
		break;
	case DNSMSG_T_TXT:
		off = 0;
		do {
			n = rr->txtlen - off > 255 ? 255 : rr->txtlen - off;
			l = (uint8_t)n;
			out_put(o, &l, 1);
			out_put(o, rr->txt + off, n);
			off += n;
		} while (off < rr->txtlen);
		break;
	default:
		out_put(o, rr->rdata, rr->rdlen);
		break;
	}
	return out_rdlen(o, mark);
}

int
dnsmsg_out_txt(struct dnsmsg_out *o, int section, const char *name,
    uint32_t ttl, const char *const *strs, const size_t *lens, size_t n)
{
	size_t		 mark, i;
	uint8_t		 l;

	if (out_section(o, section) == -1 || out_name(o, name, true) == -1 ||
	    out_16(o, DNSMSG_T_TXT) == -1 || out_16(o, DNSMSG_C_IN) == -1 ||
	    out_32(o, ttl) == -1)
		return -1;
	mark = o->len;
	out_16(o, 0);
	for (i = 0; i < n; i++) {
		if (lens[i] > 255) {
			o->error = "character-string longer than 255";
			return -1;
		}
		l = (uint8_t)lens[i];
		out_put(o, &l, 1);
		out_put(o, strs[i], lens[i]);
	}
	return out_rdlen(o, mark);
}

int
dnsmsg_out_opt(struct dnsmsg_out *o, uint16_t udp_size, uint8_t ext_rcode)
{
	/* RFC 6891 6.1.2: root owner, CLASS = payload size, TTL = ext-rcode,
	 * version 0, flags 0 (no DO: we do not validate), no options. */
	if (out_section(o, 3) == -1 || out_name(o, "", false) == -1 ||
	    out_16(o, DNSMSG_T_OPT) == -1 || out_16(o, udp_size) == -1 ||
	    out_32(o, (uint32_t)ext_rcode << 24) == -1 || out_16(o, 0) == -1)
		return -1;
	return 0;
}

const uint8_t *
dnsmsg_out_data(struct dnsmsg_out *o, size_t *len_r, const char **error_r)
{
	int		 i;

	if (o->error != NULL) {
		*error_r = o->error;
		return NULL;
	}
	for (i = 0; i < 4; i++) {
		o->buf[4 + 2 * i] = o->count[i] >> 8;
		o->buf[5 + 2 * i] = o->count[i] & 0xff;
	}
	*len_r = o->len;
	return o->buf;
}

void
dnsmsg_out_free(struct dnsmsg_out **op)
{
	struct dnsmsg_out	*o = *op;

	if (o == NULL)
		return;
	free(o->comp);
	free(o->buf);
	free(o);
	*op = NULL;
}

int
dnsmsg_query(const char *name, uint16_t type, uint16_t id, bool edns,
    uint8_t *buf, size_t size, size_t *len_r, const char **error_r)
{
	struct dnsmsg_out	*o;
	const uint8_t		*p;
	size_t			 len;
	int			 rc = -1;

	o = dnsmsg_out_new(id, DNSMSG_F_RD | DNSMSG_F_AD, 0);
	dnsmsg_out_question(o, name, type, DNSMSG_C_IN);
	if (edns)
		dnsmsg_out_opt(o, DNSMSG_UDP_SIZE, 0);
	if ((p = dnsmsg_out_data(o, &len, error_r)) != NULL) {
		if (len > size)
			*error_r = "buffer too small for query";
		else {
			memcpy(buf, p, len);
			*len_r = len;
			rc = 0;
		}
	}
	dnsmsg_out_free(&o);
	return rc;
}
