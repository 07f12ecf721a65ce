/*
 * product: the catalogue.  Products with their options, price and current
 * stock; admin creation and restocking (each a stock movement, so stock
 * always equals the sum of its movements); best sellers.
 */
#ifndef STOCKADE_PRODUCT_H
#define STOCKADE_PRODUCT_H

#include "app.h"
#include "http.h"

/* GET /api/v1/products?limit=&after=: keyset pages, ascending id. */
void product_list(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/products/{id} */
void product_get(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/products/popular?days=&limit= */
void product_popular(struct request *req, struct response *res,
    struct app *app);
/* POST /api/v1/admin/products {name, description?, options:[...]} */
void product_create(struct request *req, struct response *res, struct app *app);
/* POST /api/v1/admin/options/{id}/restock {quantity} */
void product_restock(struct request *req, struct response *res,
    struct app *app);

#endif
