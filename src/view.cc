// view.cc - the ctemplate shim: the only C++ in stripelink. See view.h.
//
// A top-level view_dict is a layout dictionary with the page's dictionary
// included in it as BODY. Values and shown sections set on a top-level
// dictionary are template-global, so the layout, the page and every
// section see them; repeated sections are added to the page. Section
// wrappers are owned by their top-level dictionary and freed with it.
#include "view.h"

#include <ctemplate/template.h>
#include <ctemplate/template_dictionary.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct view_dict {
	ctemplate::TemplateDictionary *root;  // top-level only: the layout's, owned
	ctemplate::TemplateDictionary *dict;  // where sections and values go
	view_dict *top;                       // the owner of this wrapper
	std::vector<view_dict *> sections;    // top-level only: wrappers to free
};

static bool reload_templates;

extern "C" void view_init(const char *template_dir, bool reload)
{
	ctemplate::mutable_default_template_cache()->SetTemplateRootDirectory(template_dir);
	reload_templates = reload;
}

extern "C" struct view_dict *view_dict_new(void)
{
	view_dict *d = new view_dict;
	d->root = new ctemplate::TemplateDictionary("layout");
	d->dict = d->root->AddIncludeDictionary("BODY");
	d->top = d;
	return d;
}

extern "C" void view_dict_free(struct view_dict *d)
{
	if (!d || d->top != d)
		return;
	for (view_dict *s : d->sections)
		delete s;
	delete d->root;
	delete d;
}

extern "C" void view_set(struct view_dict *d, const char *name, const char *value)
{
	if (d->top == d)
		d->root->SetTemplateGlobalValue(name, value ? value : "");
	else
		d->dict->SetValue(name, value ? value : "");
}

extern "C" void view_set_int(struct view_dict *d, const char *name, long long value)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", value);
	view_set(d, name, buf);
}

extern "C" void view_show(struct view_dict *d, const char *section)
{
	/* shown in the page (so sections nested in it find the page's
	 * repeated sections) and, on a top-level dictionary, in the layout */
	if (d->top == d)
		d->root->ShowTemplateGlobalSection(section);
	d->dict->ShowSection(section);
}

extern "C" struct view_dict *view_section(struct view_dict *d, const char *section)
{
	view_dict *s = new view_dict;
	s->root = nullptr;
	s->dict = d->dict->AddSectionDictionary(section);
	s->top = d->top;
	d->top->sections.push_back(s);
	return s;
}

extern "C" char *view_render(const char *layout, const char *page, struct view_dict *d,
			     size_t *len)
{
	std::string page_file = std::string(page) + ".tpl";
	if (reload_templates)
		ctemplate::mutable_default_template_cache()->ReloadAllIfChanged(
			ctemplate::TemplateCache::LAZY_RELOAD);
	std::string out;
	bool ok;
	if (layout) {
		d->dict->SetFilename(page_file);
		ok = ctemplate::ExpandTemplate(std::string(layout) + ".tpl",
					       ctemplate::DO_NOT_STRIP, d->root, &out);
	} else {
		ok = ctemplate::ExpandTemplate(page_file, ctemplate::DO_NOT_STRIP, d->dict, &out);
	}
	if (!ok) {
		fprintf(stderr, "stripelink: view: cannot render %s%s%s\n", page,
			layout ? " in " : "", layout ? layout : "");
		return NULL;
	}
	char *s = static_cast<char *>(malloc(out.size() + 1));
	if (!s)
		return NULL;
	memcpy(s, out.data(), out.size());
	s[out.size()] = '\0';
	if (len)
		*len = out.size();
	return s;
}
