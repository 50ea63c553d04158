/*
 * page_apps.c - the Apps page: apps that can be connected, and the
 * Connected Apps section.
 */
#include "handlers.h"

#include "app.h"
#include "view.h"

HANDLER(page_apps_get)
{
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Apps");
	view_show(d, "NO_CONNECTED");
	view_show(d, "CONNECT_SOON");
	return page_render(r, resp, "apps", "APPS", d);
}
