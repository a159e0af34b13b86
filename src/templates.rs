//! The handlebars templates, embedded in the binary: pages (HTML-escaped) and emails
//! (an escaped registry for the HTML part, a plain one for subject and text part). Text
//! comes from `locales/` through the `fluent` and `t` helpers, in the `lang` of the data.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::Loader;
use fluent_templates::fluent_bundle::FluentValue;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use rust_embed::RustEmbed;
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::i18n::{LOCALES, Lang};

#[derive(RustEmbed)]
#[folder = "templates/"]
#[include = "*.hbs"]
struct TemplateFiles;

#[derive(Debug, thiserror::Error)]
#[error("templates: {0}")]
pub struct TemplateSetupError(String);

pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// Registers every template under its path without the extension
    /// (`pages/home`, `layouts/base`, `partials/product_card`).
    pub fn load() -> Result<Self, TemplateSetupError> {
        Self::build(true)
    }

    /// The same templates without HTML escaping, for email subjects and text parts.
    pub fn plain() -> Result<Self, TemplateSetupError> {
        Self::build(false)
    }

    fn build(html: bool) -> Result<Self, TemplateSetupError> {
        let mut registry = Handlebars::new();
        if !html {
            registry.register_escape_fn(handlebars::no_escape);
        }
        registry.register_helper("fluent", Box::new(Fluent));
        registry.register_helper("t", Box::new(Translate));
        registry
            .register_embed_templates_with_extension::<TemplateFiles>(".hbs")
            .map_err(|e| TemplateSetupError(e.to_string()))?;
        Ok(Self { registry })
    }

    pub fn render(&self, name: &str, data: &Value) -> AppResult<String> {
        self.registry
            .render(name, data)
            .map_err(|e| AppError::Internal(format!("template {name}: {e}")))
    }
}

/// The language a template renders in: the data's `lang`, Chinese when absent.
fn lang_of(ctx: &Context) -> Lang {
    ctx.data()
        .get("lang")
        .and_then(Value::as_str)
        .and_then(Lang::parse)
        .unwrap_or_default()
}

/// `{{fluent "key" name=value …}}`: a string from `locales/` with its arguments. Text
/// arguments pass through the registry's escaping (HTML for pages and HTML mail), since
/// they are often what people typed — a buyer's name, a household's, a tracking number.
struct Fluent;

impl HelperDef for Fluent {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        reg: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let key = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("fluent", 0))?;
        let escape = reg.get_escape_fn();
        let args: HashMap<Cow<'static, str>, FluentValue> = h
            .hash()
            .iter()
            .filter_map(|(name, value)| {
                let value = match value.value() {
                    Value::Number(n) => FluentValue::from(n.as_f64()?),
                    Value::String(s) => FluentValue::from(escape(s)),
                    _ => return None,
                };
                Some((Cow::Owned(name.to_string()), value))
            })
            .collect();
        let text = LOCALES.lookup_with_args(lang_of(ctx).id(), key, &args);
        out.write(&text)?;
        Ok(())
    }
}

/// `(t "key")`: a string from `locales/` as a value, for passing into partials (the
/// `fluent` helper only writes to the page).
struct Translate;

impl HelperDef for Translate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let key = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
        Ok(ScopedJson::Derived(Value::String(lang_of(ctx).t(key))))
    }
}
