/*
 * http_metrics.c - the Prometheus text exposition behind GET /metrics:
 * build info, uptime, config generation, open connections per service,
 * connections accepted, the store's delivery and fsync counters, and the
 * HTTP service's own answers by status code.
 *
 * Owns the start time and the per-status request counters (process-wide,
 * a handful of integers).  Threads: loop only.
 */
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "http_private.h"
#include "loop.h"
#include "store.h"

static const int http_metrics_codes[] = {
	200, 400, 404, 405, 413, 414, 417, 431, 501, 505
};
#define HTTP_METRICS_NCODES \
	(sizeof(http_metrics_codes) / sizeof(http_metrics_codes[0]))

static struct timespec	 http_metrics_t0;
static time_t		 http_metrics_wall0;
static uint64_t		 http_metrics_n[HTTP_METRICS_NCODES + 1];

void
http_metrics_init(void)
{
	if (http_metrics_wall0 != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &http_metrics_t0);
	http_metrics_wall0 = time(NULL);
}

void
http_metrics_count(int status)
{
	size_t	 i;

	for (i = 0; i < HTTP_METRICS_NCODES; i++)
		if (http_metrics_codes[i] == status)
			break;
	http_metrics_n[i]++;		/* i == NCODES: "other" */
}

static void
http_metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
http_metrics_one(struct buf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	http_metrics_head(b, name, type, help);
	buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

void
http_metrics_render(struct buf *b, void *arg)
{
	struct conn		*c = arg;
	struct store		*st = loop_shared()->store;
	struct store_stats	 ss;
	struct timespec		 now;
	struct gen		*g = loop_gen();
	double			 up;
	size_t			 i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	up = (double)(now.tv_sec - http_metrics_t0.tv_sec) +
	    (double)(now.tv_nsec - http_metrics_t0.tv_nsec) / 1e9;

	http_metrics_head(b, "postern_build_info", "gauge",
	    "Version of the running daemon.");
	buf_printf(b, "postern_build_info{version=\"%s\"} 1\n",
	    POSTERN_VERSION);
	http_metrics_head(b, "postern_uptime_seconds", "gauge",
	    "Seconds since the daemon started.");
	buf_printf(b, "postern_uptime_seconds %.3f\n", up);
	http_metrics_one(b, "postern_start_time_seconds", "gauge",
	    "Start time of the daemon, seconds since the epoch.",
	    (uint64_t)http_metrics_wall0);
	http_metrics_one(b, "postern_config_generation", "gauge",
	    "Configuration generation (1 at start, +1 per successful reload).",
	    g != NULL ? g->serial : 0);

	http_metrics_head(b, "postern_connections", "gauge",
	    "Open client connections per service.");
	for (i = 0; i < SVC__N; i++)
		buf_printf(b, "postern_connections{service=\"%s\"} %zu\n",
		    conn_svc_name((enum conn_svc)i),
		    conn_count_svc((enum conn_svc)i));
	/* Connection ids are sequential from 1: ours is the count so far. */
	http_metrics_one(b, "postern_connections_accepted_total", "counter",
	    "Client connections accepted, every service.",
	    c != NULL ? conn_id(c) : 0);

	if (st != NULL) {
		store_stats(st, &ss);
		http_metrics_one(b, "postern_store_deliveries_total",
		    "counter", "Recipients delivered to a mailbox.",
		    ss.deliveries);
		http_metrics_one(b, "postern_store_delivery_failures_total",
		    "counter", "Recipients whose delivery failed.",
		    ss.failures);
		http_metrics_one(b, "postern_store_file_fsyncs_total",
		    "counter", "Message files fsynced.", ss.file_fsyncs);
		http_metrics_one(b, "postern_store_dir_fsyncs_total",
		    "counter", "Maildir directories fsynced.", ss.dir_fsyncs);
		http_metrics_one(b, "postern_store_index_commits_total",
		    "counter", "Index write transactions committed.",
		    ss.index_commits);
		http_metrics_one(b, "postern_store_index_errors_total",
		    "counter", "Index commits that failed.", ss.index_errors);
	}

	http_metrics_head(b, "postern_http_requests_total", "counter",
	    "HTTP requests answered, by status code.");
	for (i = 0; i < HTTP_METRICS_NCODES; i++)
		buf_printf(b, "postern_http_requests_total{code=\"%d\"} %"
		    PRIu64 "\n", http_metrics_codes[i], http_metrics_n[i]);
	buf_printf(b, "postern_http_requests_total{code=\"other\"} %" PRIu64
	    "\n", http_metrics_n[HTTP_METRICS_NCODES]);
}
