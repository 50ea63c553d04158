/*
 * fuzz_mapping.c - libFuzzer target for event JSON → mapping (src/mapping.c),
 * the path a webhook's body takes after its signature is checked.
 *
 * Input: any bytes, parsed as an event with json-c. Its data.object (or the
 * whole document) is mapped with the default mapping of every resource (some
 * read customer.*), also with its "customer" when that is an object, and
 * read as a refund and as a dispute (mapping_apply_money); the input is also
 * read as a saved mapping (mapping_from_json). Checks the documented results,
 * that a contact is only made with an email, and that a refund or dispute is
 * only kept with its id, its charge and an integer amount.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "mapping.h"

static void map_with(const struct mapping *m, json_object *obj, json_object *customer)
{
	struct change_set cs;
	change_set_init(&cs);
	sl_err e = mapping_apply(m, obj, customer, &cs);
	if (e != SL_OK && e != SL_ERR_INVALID && e != SL_ERR_NOMEM)
		abort();
	if (e == SL_OK && (!cs.email || !cs.email_key || !strchr(cs.email, '@')))
		abort();
	if (e == SL_ERR_INVALID && !cs.skip_reason)
		abort();
	json_object *j = change_set_to_json(&cs);   /* every string it kept is readable */
	if (j)
		json_object_put(j);
	change_set_clear(&cs);
}

static void money_with(enum event_effect effect, json_object *obj)
{
	struct change_set cs;
	change_set_init(&cs);
	sl_err e = mapping_apply_money(effect, obj, &cs);
	if (e != SL_OK && e != SL_ERR_INVALID && e != SL_ERR_NOMEM)
		abort();
	if (e == SL_ERR_INVALID && (!cs.skip_reason || cs.refund_count || cs.dispute.present))
		abort();
	if (e == SL_OK && effect == EFFECT_REFUND &&
	    (cs.refund_count != 1 || !cs.refunds[0].id || !cs.refunds[0].charge_id))
		abort();
	if (e == SL_OK && effect == EFFECT_DISPUTE && (!cs.dispute.present || !cs.dispute.charge_id))
		abort();
	json_object *j = change_set_to_json(&cs);
	if (j)
		json_object_put(j);
	change_set_clear(&cs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	char *why = NULL;
	struct mapping *saved = mapping_from_json(text, &why);
	mapping_free(saved);
	free(why);

	json_object *event = json_tokener_parse(text);
	json_object *obj = event, *d, *o;
	if (event && json_object_object_get_ex(event, "data", &d) &&
	    json_object_object_get_ex(d, "object", &o))
		obj = o;
	json_object *customer = NULL;
	if (obj)
		json_object_object_get_ex(obj, "customer", &customer);
	for (int r = 0; r < RESOURCE__MAX; r++) {
		struct mapping *m = mapping_default((enum resource)r);
		if (!m)
			continue;
		map_with(m, obj, NULL);
		if (json_object_is_type(customer, json_type_object))
			map_with(m, obj, customer);
		mapping_free(m);
	}
	money_with(EFFECT_REFUND, obj);
	money_with(EFFECT_DISPUTE, obj);
	json_object_put(event);
	free(text);
	return 0;
}
