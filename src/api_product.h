/*
 * api_product: the catalogue's endpoints (product.c holds the data).
 */
#ifndef STOCKADE_API_PRODUCT_H
#define STOCKADE_API_PRODUCT_H

#include "app.h"
#include "http.h"

/* GET /api/v1/products?limit=&after=: keyset pages, ascending id. */
void api_product_list(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/products/{id} */
void api_product_get(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/products/popular?days=&limit= */
void api_product_popular(struct request *req, struct response *res,
    struct app *app);
/* POST /api/v1/admin/products {name, description?, options:[...]} */
void api_product_create(struct request *req, struct response *res,
    struct app *app);
/* POST /api/v1/admin/options/{id}/restock {quantity} */
void api_product_restock(struct request *req, struct response *res,
    struct app *app);

#endif
