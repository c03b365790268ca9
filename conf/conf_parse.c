/*
 * conf_parse.c - parse "addr:port" / "[v6addr]:port" listen addresses.
 * Pure; used by the loader (with reasons for the error messages) and by
 * the listener code through conf_parse_hostport().  [any]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "str.h"
#include "conf.h"
#include "conf_private.h"

int
conf_parse_hostport_why(const char *s, char **host_r, int *port_r,
    const char **error_r)
{
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*colon, *hs, *he;
	char		*host;
	uint64_t	 port;
	int		 af;

	if (s[0] == '[') {
		if ((he = strchr(s, ']')) == NULL || he[1] != ':') {
			*error_r = "expected \"addr:port\" or \"[v6addr]:port\"";
			return -1;
		}
		hs = s + 1;
		colon = he + 1;
		af = AF_INET6;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL) {
			*error_r = "expected \"addr:port\" or \"[v6addr]:port\"";
			return -1;
		}
		hs = s;
		he = colon;
		af = AF_INET;
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1)) {
		*error_r = "expected a numeric port after ':'";
		return -1;
	}
	if (strlen(colon + 1) > 5 ||
	    str_to_u64(colon + 1, 65535, &port) == -1 || port == 0) {
		*error_r = "port out of range (1-65535)";
		return -1;
	}
	host = xstrndup(hs, (size_t)(he - hs));
	if (inet_pton(af, host, addr) != 1) {
		free(host);
		*error_r = af == AF_INET6 ? "invalid IPv6 address" :
		    "invalid IPv4 address";
		return -1;
	}
	*host_r = host;
	*port_r = (int)port;
	return 0;
}

int
conf_parse_hostport(const char *s, char **host_r, int *port_r)
{
	const char	*why;

	return conf_parse_hostport_why(s, host_r, port_r, &why);
}
