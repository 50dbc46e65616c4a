/*
 * The metrics listener: when METRICS_PORT is set, a small libmicrohttpd daemon of its own
 * (one thread) on HOST:METRICS_PORT that serves GET /metrics (core/metrics.h) and nothing
 * else, with no token: the port is meant to be reached only inside the cluster (the chart's
 * scrape annotations and ServiceMonitor point at it; its ingress never does).
 */
#ifndef TODO_METRICSD_H
#define TODO_METRICSD_H

struct metricsd;

/* Starts listening on host:port. ERR_OK (the caller owns *out) or ERR_IO after logging. */
int metricsd_start(const char *host, int port, struct metricsd **out);

/* Stops the daemon and frees it; NULL is a no-op. */
void metricsd_stop(struct metricsd *m);

#endif
