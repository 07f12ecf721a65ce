/*
 * api_status: the two introspection endpoints, read from the scoreboard:
 * GET /status, the pool as php-fpm's status page shows it (JSON, or plain
 * text for a human), and GET /metrics, the same numbers and more for
 * Prometheus.  Both need the admin role unless status_public or
 * metrics_public is on (route.c).  docs/operations.md describes every
 * field and metric.
 */
#ifndef STOCKADE_API_STATUS_H
#define STOCKADE_API_STATUS_H

#include "app.h"
#include "http.h"
#include "metrics.h"

/*
 * GET /status[?full][&text]: the pool (start time, accepted requests,
 * listen queue, idle and active workers, counters) and a short entry per
 * worker; ?full adds each worker's last request, its duration and its
 * memory (Pss); ?text, or an Accept header that asks for text/plain first,
 * renders it as php-fpm's plain text does.
 */
void api_status_page(struct request *req, struct response *res,
    struct app *app);

/*
 * GET /metrics: the Prometheus text format (metrics.h), the routes named
 * by route_name (route.c, which holds the table, passes it in).
 */
void api_status_metrics(struct request *req, struct response *res,
    struct app *app, metrics_route_name_fn route_name);

#endif
