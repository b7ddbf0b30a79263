/* s3xml.c - ListObjectsV2 pages and S3 error bodies on libxml2, DTDs refused (see s3xml.h). */
#include "aws/s3xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/http.h"
#include "core/error.h"

/* Parse options: no network, no entity substitution, no DTD loading or validation, quiet. */
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static bool has_dtd_marker(const char *xml, size_t len)
{
    static const char *const marks[] = {"<!DOCTYPE", "<!ENTITY", "<!doctype"};
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (memmem(xml, len, marks[i], strlen(marks[i])) != NULL)
            return true;
    return false;
}

static xmlDocPtr parse(const char *xml, size_t len, const char *root, char *why, size_t why_len)
{
    if (len > (size_t)INT32_MAX) {
        nes_msgf(why, why_len, "document too large");
        return NULL;
    }
    if (has_dtd_marker(xml, len)) {
        nes_msgf(why, why_len, "DTD not allowed");
        return NULL;
    }
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "s3.xml", NULL, XML_OPTS);
    if (doc == NULL) {
        nes_msgf(why, why_len, "not well-formed XML");
        return NULL;
    }
    xmlNodePtr r = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        nes_msgf(why, why_len, "DTD not allowed");
    } else if (r == NULL || xmlStrcmp(r->name, (const xmlChar *)root) != 0) {
        nes_msgf(why, why_len, "not a %s document", root);
    } else {
        return doc;
    }
    xmlFreeDoc(doc);
    return NULL;
}

static bool is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* The text of an element (malloc'd by libxml2; free with xmlFree). */
static char *text(xmlNodePtr n)
{
    return (char *)xmlNodeGetContent(n);
}

static int add_object(xmlNodePtr c, size_t max_objects, nes_s3_list *list, char *why,
                      size_t why_len)
{
    if (list->n >= max_objects) {
        nes_msgf(why, why_len, "too many objects (more than %zu)", max_objects);
        return -1;
    }
    if (list->n == list->cap) {
        size_t ncap = list->cap ? list->cap * 2 : 64;
        nes_s3_object *o = realloc(list->objects, ncap * sizeof(*o));
        if (o == NULL) {
            nes_msgf(why, why_len, "out of memory");
            return -1;
        }
        list->objects = o;
        list->cap = ncap;
    }
    nes_s3_object *o = &list->objects[list->n];
    memset(o, 0, sizeof(*o));
    for (xmlNodePtr k = c->children; k != NULL; k = k->next) {
        if (is(k, "Key")) {
            char *t = text(k);
            size_t n = t ? strlen(t) : 0;
            if (t == NULL || n == 0 || n > NES_S3_MAX_KEY || o->key != NULL) {
                xmlFree(t);
                free(o->key);
                nes_msgf(why, why_len, n > NES_S3_MAX_KEY ? "key too long" : "bad Key element");
                return -1;
            }
            o->key = strdup(t);
            xmlFree(t);
            if (o->key == NULL) {
                nes_msgf(why, why_len, "out of memory");
                return -1;
            }
        } else if (is(k, "ETag")) {
            char *t = text(k);
            if (t != NULL)
                nes_aws_sanitise(t, strlen(t), o->etag, sizeof(o->etag));
            xmlFree(t);
        } else if (is(k, "Size")) {
            char *t = text(k);
            o->size = t ? strtoull(t, NULL, 10) : 0;
            xmlFree(t);
        }
    }
    if (o->key == NULL) {
        nes_msgf(why, why_len, "Contents without a Key");
        return -1;
    }
    list->n++;
    return 0;
}

int nes_s3xml_parse_list(const char *xml, size_t len, size_t max_objects, nes_s3_list *list,
                         nes_s3xml_page *page, char *why, size_t why_len)
{
    page->truncated = false;
    page->continuation_token = NULL;
    xmlDocPtr doc = parse(xml, len, "ListBucketResult", why, why_len);
    if (doc == NULL)
        return -1;
    int rc = 0;
    for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n != NULL && rc == 0; n = n->next) {
        if (is(n, "Contents")) {
            rc = add_object(n, max_objects, list, why, why_len);
        } else if (is(n, "IsTruncated")) {
            char *t = text(n);
            page->truncated = t != NULL && strcmp(t, "true") == 0;
            xmlFree(t);
        } else if (is(n, "NextContinuationToken")) {
            char *t = text(n);
            if (t == NULL || strlen(t) > 4096 || page->continuation_token != NULL) {
                nes_msgf(why, why_len, "bad NextContinuationToken");
                rc = -1;
            } else {
                page->continuation_token = strdup(t);
                if (page->continuation_token == NULL)
                    rc = -1;
            }
            xmlFree(t);
        }
    }
    xmlFreeDoc(doc);
    if (rc == 0 && page->truncated && page->continuation_token == NULL) {
        nes_msgf(why, why_len, "truncated page without a NextContinuationToken");
        rc = -1;
    }
    if (rc != 0) {
        free(page->continuation_token);
        page->continuation_token = NULL;
    }
    return rc;
}

int nes_s3xml_parse_error(const char *xml, size_t len, char *code, size_t code_len, char *message,
                          size_t message_len)
{
    char why[64];
    xmlDocPtr doc = parse(xml, len, "Error", why, sizeof(why));
    if (doc == NULL)
        return -1;
    for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n != NULL; n = n->next) {
        bool c = is(n, "Code"), m = is(n, "Message");
        if (!c && !m)
            continue;
        char *t = text(n);
        if (t != NULL)
            nes_aws_sanitise(t, strlen(t), c ? code : message, c ? code_len : message_len);
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    return 0;
}
