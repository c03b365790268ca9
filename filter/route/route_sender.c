/*
 * route_sender.c - reject_sender: the MAIL FROM addresses and domains
 * refused from unauthenticated clients, as SNM's rejectSender feeds
 * Postfix check_sender_access.  Reads the tables route_new() built; owns
 * nothing.  [any]
 */
#include <stdbool.h>
#include <stdlib.h>

#include "route.h"
#include "route_private.h"
#include "str.h"
#include "xmalloc.h"

#define ROUTE_SENDER_DEFAULT	"Sender address rejected: Access denied"

bool
route_sender_rejected(const struct route *r, const char *sender,
    const char **reply_text_r)
{
	const char	*msg = r->conf->reject_sender_message;
	char		*s;
	bool		 hit;

	if (sender == NULL || r->rej_sender.n == 0)
		return false;
	s = xstrdup(sender);
	str_lower(s);
	hit = route_access_match(r, &r->rej_sender, s);
	free(s);
	if (hit && reply_text_r != NULL)
		*reply_text_r = msg != NULL && *msg != '\0' ? msg :
		    ROUTE_SENDER_DEFAULT;
	return hit;
}
