/*
 * api_coupon: the coupon endpoints.  Each handler validates its input,
 * runs the domain (coupon.c, coupon_issue.c) and answers its typed outcome
 * with the API's statuses and problem codes (docs/openapi.yaml).
 */
#ifndef STOCKADE_API_COUPON_H
#define STOCKADE_API_COUPON_H

#include "app.h"
#include "http.h"

/* POST /api/v1/admin/coupons: create a policy. */
void api_coupon_create(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/coupons/{id}: the policy, with what remains. */
void api_coupon_get(struct request *req, struct response *res, struct app *app);
/* POST /api/v1/coupons/{id}/issue: one coupon for the caller. */
void api_coupon_issue(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/me/coupons?limit=&after=: the caller's coupons, newest first. */
void api_coupon_list_mine(struct request *req, struct response *res,
    struct app *app);

#endif
