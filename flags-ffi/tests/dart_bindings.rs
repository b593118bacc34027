//! The Dart package in `bindings/dart`, checked without a Dart SDK.
//!
//! No Dart SDK can be installed where this suite runs, so `dart analyze` and
//! `dart test` cannot run here. What can be checked is checked, in the
//! regular `cargo test`:
//!
//! 1. Every `.dart` file under `bindings/dart` parses with the
//!    `tree-sitter-dart` grammar: no `ERROR` node, no `MISSING` node, and no
//!    zero-width named node (how the grammar reports a missing hidden token).
//! 2. Every native function the Dart code binds (`@Native<...>(symbol: ...)`
//!    external functions) is declared in `flags-ffi/include/flags.h` with the
//!    same number of parameters and the same types under a fixed mapping
//!    ([`C_SCALARS`], [`DART_SCALARS`], [`OPAQUE_AND_STRUCTS`]), the Dart
//!    function's own parameter types agree with its native signature, and
//!    every function of the header is bound.
//! 3. The Dart `Struct` classes `FlagsEvaluation` and `FlagsRemoteOptions`
//!    have the fields of the header's `flags_evaluation` and
//!    `flags_remote_options`, in the same order, with the same types and
//!    names (`cachePath` is `cache_path`).
//! 4. The result and reason numbers of `FlagsResultCode` and
//!    `FlagsReasonCode` in `bindings.dart` are the header's `FLAGS_*`
//!    numbers, all of them.
//! 5. Every call through the `native` prefix in the package's own code
//!    (`native.flagsClientOpen(...)`) names a binding and passes as many
//!    arguments as it declares.
//!
//! The checker itself is tested on deliberately wrong snippets and on a
//! header written from the ABI contract (`checker_*` tests below).
//!
//! The file is long (about 1,850 lines) on purpose: the checker, its
//! mapping tables and the tests of the checker share private helpers and are
//! read together, and each file under `tests/` is a crate of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser};

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("flags-ffi has no parent directory"))
        .to_path_buf()
}

fn dart_package() -> PathBuf {
    repo_root().join("bindings").join("dart")
}

fn header_path() -> PathBuf {
    repo_root()
        .join("flags-ffi")
        .join("include")
        .join("flags.h")
}

/// Every `.dart` file of the package (not tool output), as (path relative to
/// the repository, text), sorted.
fn dart_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, ".dart_tool" | "build" | ".git") {
                    walk(&path, out);
                }
            } else if name.ends_with(".dart") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&dart_package(), &mut paths);
    paths.sort();
    let root = repo_root();
    paths
        .into_iter()
        .map(|path| {
            let text =
                fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let shown = path.strip_prefix(&root).unwrap_or(&path);
            (shown.display().to_string().replace('\\', "/"), text)
        })
        .collect()
}

/// The committed header, or why it cannot be read.
fn try_read_header(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| {
        format!(
            "flags-ffi/include/flags.h is missing ({e}): the Dart bindings are checked against \
             the committed header. Generate it with \
             `FLAGS_FFI_UPDATE_HEADERS=1 cargo test -p flags-ffi --test header`."
        )
    })
}

// ---------------------------------------------------------------------------
// Dart: parsing
// ---------------------------------------------------------------------------

fn dart_parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_dart::LANGUAGE.into())
        .unwrap_or_else(|e| panic!("loading the tree-sitter-dart grammar: {e}"));
    parser
}

/// Syntax problems of one Dart file as `file:line:col: what`, in order.
fn syntax_errors(file: &str, text: &str) -> Vec<String> {
    fn walk(node: Node, file: &str, text: &str, out: &mut Vec<String>) {
        let at = node.start_position();
        let position = format!("{file}:{}:{}", at.row + 1, at.column + 1);
        if node.is_error() {
            let snippet: String = text[node.byte_range()].chars().take(40).collect();
            out.push(format!("{position}: ERROR (cannot parse {snippet:?})"));
        } else if node.is_missing() {
            out.push(format!("{position}: MISSING {:?}", node.kind()));
        } else if node.is_named() && node.byte_range().is_empty() && node.parent().is_some() {
            out.push(format!(
                "{position}: MISSING {:?} (zero-width node)",
                node.kind()
            ));
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            walk(child, file, text, out);
        }
    }
    let Some(tree) = dart_parser().parse(text, None) else {
        return vec![format!("{file}: tree-sitter returned no tree")];
    };
    let mut out = Vec::new();
    walk(tree.root_node(), file, text, &mut out);
    if out.is_empty() && tree.root_node().has_error() {
        out.push(format!(
            "{file}: the tree has an error the walk did not find"
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// Dart: bindings, structs, constants
// ---------------------------------------------------------------------------

/// A Dart type as written: `Pointer<Pointer<Char>>`, `Int32`, `void`,
/// `Bool Function(Int32)`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum DartType {
    Named(String, Vec<DartType>),
    Function(Box<DartType>, Vec<DartType>),
}

impl std::fmt::Display for DartType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DartType::Named(name, args) if args.is_empty() => f.write_str(name),
            DartType::Named(name, args) => {
                let args: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(f, "{name}<{}>", args.join(", "))
            }
            DartType::Function(ret, params) => {
                let params: Vec<String> = params.iter().map(ToString::to_string).collect();
                write!(f, "{ret} Function({})", params.join(", "))
            }
        }
    }
}

/// One `@Native` external function.
#[derive(Debug)]
struct Binding {
    /// `file:line` of the annotation.
    at: String,
    symbol: String,
    /// The Dart function's name.
    name: String,
    ret: DartType,
    params: Vec<DartType>,
    /// The Dart function's own return and parameter types.
    dart_ret: DartType,
    dart_params: Vec<DartType>,
}

/// One field of a Dart `Struct` subclass.
#[derive(Debug)]
struct DartField {
    name: String,
    /// The native type: the annotation (`@Int32()`) or the declared type
    /// (`Pointer<Char>`).
    native: DartType,
    declared: DartType,
    at: String,
}

/// A call of a binding through the `native` prefix (`native.flagsX(...)`)
/// in the package's own code.
#[derive(Debug)]
struct NativeCall {
    at: String,
    name: String,
    args: usize,
}

#[derive(Debug, Default)]
struct DartApi {
    bindings: Vec<Binding>,
    calls: Vec<NativeCall>,
    structs: BTreeMap<String, (String, Vec<DartField>)>,
    /// `class.constant` -> (value, `file:line`), for the constant classes.
    constants: BTreeMap<String, (i64, String)>,
}

/// The classes whose `static const int` members are C ABI numbers.
const CONSTANT_CLASSES: [&str; 2] = ["FlagsResultCode", "FlagsReasonCode"];

fn text<'a>(node: Node, src: &'a str) -> &'a str {
    &src[node.byte_range()]
}

fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

fn child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    named_children(node).into_iter().find(|c| c.kind() == kind)
}

fn line_of(file: &str, node: Node) -> String {
    format!("{file}:{}", node.start_position().row + 1)
}

/// Reads a `type` (or `void_type`, `function_type`) node.
fn dart_type(node: Node, src: &str, at: &str) -> Result<DartType, String> {
    match node.kind() {
        "void_type" => Ok(DartType::Named("void".into(), vec![])),
        "function_type" => {
            let parts = named_children(node);
            let ret = parts
                .iter()
                .find(|c| matches!(c.kind(), "type" | "void_type"))
                .ok_or_else(|| format!("{at}: a function type without a return type"))?;
            let list = parts
                .iter()
                .find(|c| c.kind() == "parameter_type_list")
                .ok_or_else(|| format!("{at}: a function type without parameters"))?;
            let mut params = Vec::new();
            for param in named_children(*list) {
                if param.kind() != "normal_parameter_type" {
                    return Err(format!(
                        "{at}: unsupported parameter {:?} in a native signature",
                        text(param, src)
                    ));
                }
                let ty = named_children(param)
                    .into_iter()
                    .find(|c| matches!(c.kind(), "type" | "void_type"))
                    .ok_or_else(|| format!("{at}: a parameter without a type"))?;
                params.push(dart_type(ty, src, at)?);
            }
            Ok(DartType::Function(
                Box::new(dart_type(*ret, src, at)?),
                params,
            ))
        }
        "type" => {
            let parts = named_children(node);
            if let [only] = parts.as_slice() {
                if matches!(only.kind(), "function_type" | "void_type" | "type") {
                    return dart_type(*only, src, at);
                }
            }
            let mut name = None;
            let mut args = Vec::new();
            for part in parts {
                match part.kind() {
                    "type_identifier" if name.is_none() => name = Some(text(part, src).to_owned()),
                    "type_arguments" => {
                        for arg in named_children(part) {
                            args.push(dart_type(arg, src, at)?);
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{at}: type {:?} has a form this checker does not read (a prefixed \
                             or nullable type?); import dart:ffi without a prefix",
                            text(node, src)
                        ));
                    }
                }
            }
            let name = name.ok_or_else(|| format!("{at}: a type without a name"))?;
            Ok(DartType::Named(name, args))
        }
        other => Err(format!(
            "{at}: expected a type, found {other} {:?}",
            text(node, src)
        )),
    }
}

/// The string value of a plain string literal (`'flags_x'`).
fn string_literal(node: Node, src: &str) -> Option<String> {
    let raw = text(node, src);
    let inner = raw
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    (!inner.contains(['$', '\\', '\'', '"'])).then(|| inner.to_owned())
}

/// Reads an `@Native<...>(...)` annotation on an external top-level function.
fn read_binding(annotation: Node, src: &str, file: &str) -> Result<Binding, String> {
    let at = line_of(file, annotation);
    let declaration = annotation
        .parent()
        .filter(|p| p.kind() == "external_function_declaration")
        .ok_or_else(|| format!("{at}: @Native is only checked on external top-level functions"))?;
    let type_args = child_of_kind(annotation, "type_arguments")
        .ok_or_else(|| format!("{at}: @Native without its native signature <...>"))?;
    let signature_type = named_children(type_args)
        .into_iter()
        .next()
        .ok_or_else(|| format!("{at}: empty @Native<>"))?;
    let DartType::Function(ret, params) = dart_type(signature_type, src, &at)? else {
        return Err(format!("{at}: @Native<...> is not a function type"));
    };

    let signature = child_of_kind(declaration, "function_signature")
        .ok_or_else(|| format!("{at}: no function signature after @Native"))?;
    let name_node = signature
        .child_by_field_name("name")
        .ok_or_else(|| format!("{at}: a native function without a name"))?;
    let name = text(name_node, src).to_owned();
    let dart_ret = match signature.child_by_field_name("return_type") {
        Some(node) => dart_type(node, src, &at)?,
        None => return Err(format!("{at}: {name} has no declared return type")),
    };
    let parameter_list = signature
        .child_by_field_name("parameters")
        .ok_or_else(|| format!("{at}: {name} has no parameter list"))?;
    let mut dart_params = Vec::new();
    for param in named_children(parameter_list) {
        if param.kind() != "formal_parameter" {
            return Err(format!(
                "{at}: {name}: parameter {:?} is not a plain positional parameter",
                text(param, src)
            ));
        }
        let ty = named_children(param)
            .into_iter()
            .find(|c| matches!(c.kind(), "type" | "void_type"))
            .ok_or_else(|| format!("{at}: {name}: a parameter without a type"))?;
        dart_params.push(dart_type(ty, src, &at)?);
    }

    let mut symbol = None;
    if let Some(arguments) = child_of_kind(annotation, "annotation_arguments") {
        for argument in named_children(arguments) {
            if argument.kind() != "named_argument" {
                continue;
            }
            let label = child_of_kind(argument, "label")
                .map(|l| text(l, src).trim_end_matches(':').trim().to_owned());
            if label.as_deref() == Some("symbol") {
                let literal = named_children(argument)
                    .into_iter()
                    .find(|c| c.kind() == "string_literal")
                    .and_then(|l| string_literal(l, src))
                    .ok_or_else(|| format!("{at}: symbol: must be a plain string literal"))?;
                symbol = Some(literal);
            }
        }
    }
    Ok(Binding {
        at,
        symbol: symbol.unwrap_or_else(|| name.clone()),
        name,
        ret: *ret,
        params,
        dart_ret,
        dart_params,
    })
}

/// Reads a `class X extends Struct { ... }` body.
fn read_struct(class: Node, src: &str, file: &str) -> Result<Vec<DartField>, String> {
    let body = class
        .child_by_field_name("body")
        .ok_or_else(|| format!("{}: a Struct without a body", line_of(file, class)))?;
    let mut fields = Vec::new();
    for member in named_children(body) {
        if member.kind() != "member_declaration" {
            continue;
        }
        let at = line_of(file, member);
        let Some(declaration) = child_of_kind(member, "declaration") else {
            continue;
        };
        let is_external = named_children(declaration)
            .iter()
            .any(|c| c.kind() == "external");
        if !is_external {
            // Getters, methods, constructors: not part of the layout.
            continue;
        }
        let declared = child_of_kind(declaration, "type")
            .ok_or_else(|| format!("{at}: a Struct field without a type"))?;
        let declared = dart_type(declared, src, &at)?;
        let names = child_of_kind(declaration, "identifier_list")
            .map(named_children)
            .unwrap_or_default();
        let annotation = child_of_kind(member, "annotation");
        let native = match annotation {
            Some(a) => {
                let name = a
                    .child_by_field_name("name")
                    .map(|n| text(n, src).to_owned())
                    .ok_or_else(|| format!("{at}: an annotation without a name"))?;
                DartType::Named(name, vec![])
            }
            None => declared.clone(),
        };
        if names.is_empty() {
            return Err(format!("{at}: a Struct field without a name"));
        }
        for name in names {
            fields.push(DartField {
                name: text(name, src).to_owned(),
                native: native.clone(),
                declared: declared.clone(),
                at: at.clone(),
            });
        }
    }
    Ok(fields)
}

/// Reads `static const int name = 12;` members.
fn read_constants(
    class: Node,
    class_name: &str,
    src: &str,
    file: &str,
    out: &mut BTreeMap<String, (i64, String)>,
) -> Result<(), String> {
    let Some(body) = class.child_by_field_name("body") else {
        return Ok(());
    };
    for member in named_children(body) {
        let Some(declaration) = child_of_kind(member, "declaration") else {
            continue;
        };
        let Some(list) = child_of_kind(declaration, "static_final_declaration_list") else {
            continue;
        };
        for item in named_children(list) {
            let at = line_of(file, item);
            let parts = named_children(item);
            let name = parts
                .iter()
                .find(|c| c.kind() == "identifier")
                .map(|n| text(*n, src).to_owned())
                .ok_or_else(|| format!("{at}: a constant without a name"))?;
            let value = parts
                .iter()
                .find(|c| c.kind() == "decimal_integer_literal")
                .and_then(|n| text(*n, src).parse::<i64>().ok())
                .ok_or_else(|| {
                    format!("{at}: {class_name}.{name} must be a plain decimal integer")
                })?;
            out.insert(format!("{class_name}.{name}"), (value, at));
        }
    }
    Ok(())
}

/// Finds the bindings, structs and constant classes of some Dart sources.
fn read_dart_api(files: &[(String, String)]) -> Result<DartApi, Vec<String>> {
    let mut api = DartApi::default();
    let mut errors = Vec::new();
    let mut parser = dart_parser();
    for (file, src) in files {
        let Some(tree) = parser.parse(src, None) else {
            errors.push(format!("{file}: tree-sitter returned no tree"));
            continue;
        };
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            match node.kind() {
                "annotation" => {
                    let name = node.child_by_field_name("name").map(|n| text(n, src));
                    if name.is_some_and(|n| n == "Native" || n.ends_with(".Native")) {
                        match read_binding(node, src, file) {
                            Ok(binding) => api.bindings.push(binding),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                "class_declaration" => {
                    let name = node.child_by_field_name("name").map(|n| text(n, src));
                    let superclass = node
                        .child_by_field_name("superclass")
                        .and_then(|s| s.child_by_field_name("type"))
                        .map(|t| text(t, src).trim().to_owned());
                    if let Some(name) = name {
                        if superclass.as_deref() == Some("Struct") {
                            match read_struct(node, src, file) {
                                Ok(fields) => {
                                    let at = line_of(file, node);
                                    api.structs.insert(name.to_owned(), (at, fields));
                                }
                                Err(e) => errors.push(e),
                            }
                        }
                        if CONSTANT_CLASSES.contains(&name) {
                            if let Err(e) =
                                read_constants(node, name, src, file, &mut api.constants)
                            {
                                errors.push(e);
                            }
                        }
                    }
                }
                "call_expression" => {
                    let function = node.child_by_field_name("function");
                    let object = function.and_then(|f| f.child_by_field_name("object"));
                    let property = function.and_then(|f| f.child_by_field_name("property"));
                    let arguments = node.child_by_field_name("arguments");
                    if let (Some(object), Some(property), Some(arguments)) =
                        (object, property, arguments)
                    {
                        if text(object, src) == "native" {
                            let args = named_children(arguments)
                                .into_iter()
                                .filter(|n| n.kind() != "comment")
                                .count();
                            api.calls.push(NativeCall {
                                at: line_of(file, node),
                                name: text(property, src).to_owned(),
                                args,
                            });
                        }
                    }
                }
                _ => {}
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
    }
    api.bindings.sort_by(|a, b| a.at.cmp(&b.at));
    if errors.is_empty() {
        Ok(api)
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------
// C: a small parser for the prototypes cbindgen writes
// ---------------------------------------------------------------------------

/// A C type: a base name (after typedefs are resolved: `int32_t`,
/// `flags_source`, `char`) and a pointer depth. `const` is dropped: Dart's
/// native types do not carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CType {
    base: String,
    pointers: usize,
}

impl std::fmt::Display for CType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.base, "*".repeat(self.pointers))
    }
}

#[derive(Debug)]
struct CFunction {
    line: usize,
    ret: CType,
    params: Vec<(CType, Option<String>)>,
}

#[derive(Debug, Default)]
struct Header {
    functions: BTreeMap<String, CFunction>,
    /// Struct name -> fields (name, type), in order.
    structs: BTreeMap<String, Vec<(String, CType)>>,
    opaque: BTreeSet<String>,
    /// Enumerators and integer `#define`s.
    constants: BTreeMap<String, i64>,
    /// `typedef int32_t flags_result;` and enum names.
    aliases: BTreeMap<String, CType>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
}

/// Removes comments, keeping line breaks (so line numbers stay right).
fn strip_comments(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut chars = c.chars().peekable();
    let mut in_string = false;
    while let Some(ch) = chars.next() {
        if in_string {
            out.push(ch);
            if ch == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else if ch == '"' {
                in_string = false;
            }
            continue;
        }
        match (ch, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(ch);
            }
            ('/', Some('/')) => {
                for rest in chars.by_ref() {
                    if rest == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for rest in chars.by_ref() {
                    if rest == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && rest == '/' {
                        break;
                    }
                    last = rest;
                }
                out.push(' ');
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Applies the preprocessor as a C17 compiler would (not C++, not C23):
/// `#ifdef __cplusplus` blocks are dropped, `#ifndef __cplusplus` blocks
/// kept, an `#if` on `__cplusplus` or `__STDC_VERSION__` (cbindgen's sized
/// enums) is false, the include guard and other conditions are kept, and
/// integer `#define`s are recorded. Returns the remaining text, with blank
/// lines where directives were.
fn preprocess(c: &str, constants: &mut BTreeMap<String, i64>) -> Result<String, String> {
    let mut keep: Vec<bool> = Vec::new();
    let mut out = String::with_capacity(c.len());
    for (number, line) in c.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(directive) = trimmed.strip_prefix('#') else {
            if keep.iter().all(|&k| k) {
                out.push_str(line);
            }
            out.push('\n');
            continue;
        };
        out.push('\n');
        let words: Vec<&str> = directive.split_whitespace().collect();
        let active = keep.iter().all(|&k| k);
        match words.as_slice() {
            ["ifdef", "__cplusplus", ..] => keep.push(false),
            ["ifndef", "__cplusplus", ..] => keep.push(true),
            ["if", ..] => {
                let language_test =
                    directive.contains("__cplusplus") || directive.contains("__STDC_VERSION__");
                keep.push(!language_test);
            }
            ["ifdef", ..] | ["ifndef", ..] => keep.push(true),
            ["else", ..] => match keep.last_mut() {
                Some(branch) => *branch = !*branch,
                None => return Err(format!("flags.h:{}: #else without #if", number + 1)),
            },
            ["elif", ..] => {
                return Err(format!(
                    "flags.h:{}: #elif is not understood by this checker",
                    number + 1
                ));
            }
            ["endif", ..] => {
                keep.pop()
                    .ok_or_else(|| format!("flags.h:{}: #endif without #if", number + 1))?;
            }
            ["define", name, value] if active => {
                if let Ok(v) = value.trim_matches(['(', ')']).parse::<i64>() {
                    constants.insert((*name).to_owned(), v);
                }
            }
            _ => {}
        }
    }
    if keep.is_empty() {
        Ok(out)
    } else {
        Err("flags.h: unbalanced #if".into())
    }
}

fn tokenize(c: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for (number, line) in c.lines().enumerate() {
        let line_no = number + 1;
        let mut chars = line.char_indices().peekable();
        while let Some((start, ch)) = chars.next() {
            if ch.is_whitespace() {
                continue;
            }
            let token = if ch.is_ascii_alphanumeric() || ch == '_' {
                let mut end = start + ch.len_utf8();
                while let Some(&(i, next)) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' {
                        end = i + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                line[start..end].to_owned()
            } else if ch == '"' {
                let mut end = start + 1;
                for (i, next) in chars.by_ref() {
                    end = i + next.len_utf8();
                    if next == '"' {
                        break;
                    }
                }
                line[start..end].to_owned()
            } else if "*(),;{}=:[]-+<>".contains(ch) {
                ch.to_string()
            } else {
                return Err(format!("flags.h:{line_no}: unexpected character {ch:?}"));
            };
            tokens.push(Token {
                text: token,
                line: line_no,
            });
        }
    }
    Ok(tokens)
}

fn is_identifier(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// Splits `tokens` at top-level `separator`s (outside braces and parens).
fn split_top_level<'a>(tokens: &'a [Token], separator: &str) -> Vec<&'a [Token]> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        match token.text.as_str() {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => depth = depth.saturating_sub(1),
            t if t == separator && depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts
}

/// Reads `const char *name` (or an unnamed `const char *`): the type and the
/// name, if any.
fn c_declarator(tokens: &[Token]) -> Result<(CType, Option<String>), String> {
    let line = tokens.first().map_or(0, |t| t.line);
    let mut words = Vec::new();
    let mut pointers = 0;
    for token in tokens {
        match token.text.as_str() {
            "const" | "struct" | "enum" | "volatile" | "restrict" => {}
            "*" => pointers += 1,
            t if is_identifier(t) => words.push(t.to_owned()),
            t => return Err(format!("flags.h:{line}: unexpected {t:?} in a declaration")),
        }
    }
    // The last word is the name when a type precedes it: `int32_t code`,
    // `flags_source **out`; a lone word is a type: `void`, `int32_t`.
    let name = if words.len() >= 2 { words.pop() } else { None };
    let multi_word = ["unsigned", "signed", "long", "short", "int", "char"];
    if words.len() > 1 && words.iter().all(|w| multi_word.contains(&w.as_str())) {
        return Err(format!(
            "flags.h:{line}: the C type {:?} has no fixed size; the ABI uses <stdint.h> types",
            words.join(" ")
        ));
    }
    match words.as_slice() {
        [base] => Ok((
            CType {
                base: base.clone(),
                pointers,
            },
            name,
        )),
        _ => Err(format!(
            "flags.h:{line}: cannot read the type of {:?}",
            join(tokens)
        )),
    }
}

fn join(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads enumerators `A = 0, B, C = 7` into `constants`.
fn read_enum_body(tokens: &[Token], constants: &mut BTreeMap<String, i64>) -> Result<(), String> {
    let mut next = 0i64;
    for item in split_top_level(tokens, ",") {
        if item.is_empty() {
            continue;
        }
        let name = &item[0].text;
        let value = match item.get(1).map(|t| t.text.as_str()) {
            None => next,
            Some("=") => {
                let literal: String = item[2..].iter().map(|t| t.text.as_str()).collect();
                literal.parse::<i64>().map_err(|_| {
                    format!(
                        "flags.h:{}: enumerator {name} = {literal} is not an integer",
                        item[0].line
                    )
                })?
            }
            Some(other) => {
                return Err(format!(
                    "flags.h:{}: unexpected {other:?} in an enum",
                    item[0].line
                ));
            }
        };
        constants.insert(name.clone(), value);
        next = value + 1;
    }
    Ok(())
}

/// The `{ ... }` body of a declaration, and the tokens before and after it.
fn braces(tokens: &[Token]) -> Option<(&[Token], &[Token], &[Token])> {
    let open = tokens.iter().position(|t| t.text == "{")?;
    let close = tokens.iter().rposition(|t| t.text == "}")?;
    (close > open).then(|| {
        (
            &tokens[..open],
            &tokens[open + 1..close],
            &tokens[close + 1..],
        )
    })
}

fn parse_header(c: &str) -> Result<Header, String> {
    let mut header = Header::default();
    let text = preprocess(&strip_comments(c), &mut header.constants)?;
    let mut tokens = tokenize(&text)?;
    // `extern "C" {` ... `}`: C++ linkage blocks, should any remain.
    while let Some(i) = tokens
        .windows(3)
        .position(|w| w[0].text == "extern" && w[1].text.starts_with('"') && w[2].text == "{")
    {
        tokens.drain(i..i + 3);
        let mut depth = 0usize;
        let close = tokens[i..].iter().position(|t| match t.text.as_str() {
            "{" => {
                depth += 1;
                false
            }
            "}" if depth == 0 => true,
            "}" => {
                depth -= 1;
                false
            }
            _ => false,
        });
        match close {
            Some(offset) => {
                tokens.remove(i + offset);
            }
            None => return Err("flags.h: extern \"C\" { without its closing brace".into()),
        }
    }

    for declaration in split_top_level(&tokens, ";") {
        let Some(first) = declaration.first() else {
            continue;
        };
        let line = first.line;
        let words: Vec<&str> = declaration.iter().map(|t| t.text.as_str()).collect();
        match words.as_slice() {
            // A prototype; `struct flags_context *flags_context_new(void)` too.
            _ if words.contains(&"(") && !words.contains(&"{") => {
                let open = words.iter().position(|w| *w == "(").unwrap_or(0);
                let close = words.iter().rposition(|w| *w == ")").unwrap_or(0);
                if words[0] == "typedef" || close < open || words.get(open + 1) == Some(&"*") {
                    return Err(format!(
                        "flags.h:{line}: function pointers are not understood by this checker: {}",
                        join(declaration)
                    ));
                }
                let (ret, name) = c_declarator(&declaration[..open])?;
                let name =
                    name.ok_or_else(|| format!("flags.h:{line}: a function without a name"))?;
                let inner = &declaration[open + 1..close];
                let mut params = Vec::new();
                let only_void = inner.len() == 1 && inner[0].text == "void";
                if !inner.is_empty() && !only_void {
                    for param in split_top_level(inner, ",") {
                        params.push(c_declarator(param)?);
                    }
                }
                header
                    .functions
                    .insert(name, CFunction { line, ret, params });
            }
            // typedef struct flags_source flags_source;
            ["typedef", "struct", tag, name] if tag == name => {
                header.opaque.insert((*name).to_owned());
            }
            // struct flags_source;
            ["struct", name] => {
                header.opaque.insert((*name).to_owned());
            }
            ["typedef", "struct", ..] | ["struct", ..] => {
                let (before, body, after) = braces(declaration)
                    .ok_or_else(|| format!("flags.h:{line}: a struct without a body"))?;
                let name = match (words[0], after.last(), before.get(1)) {
                    ("typedef", Some(alias), _) => alias.text.clone(),
                    ("struct", _, Some(tag)) => tag.text.clone(),
                    _ => return Err(format!("flags.h:{line}: an unnamed struct")),
                };
                let mut fields = Vec::new();
                for field in split_top_level(body, ";") {
                    if field.is_empty() {
                        continue;
                    }
                    let (ty, field_name) = c_declarator(field)?;
                    let field_name = field_name
                        .ok_or_else(|| format!("flags.h:{line}: a field of {name} has no name"))?;
                    fields.push((field_name, ty));
                }
                header.structs.insert(name, fields);
            }
            // typedef enum flags_result flags_result; (C23 branch)
            ["typedef", "enum", tag, name] => {
                let target = header.aliases.get(*tag).cloned().unwrap_or(CType {
                    base: "int32_t".into(),
                    pointers: 0,
                });
                header.aliases.insert((*name).to_owned(), target);
            }
            ["typedef", "enum", ..] | ["enum", ..] => {
                let (before, body, after) = braces(declaration)
                    .ok_or_else(|| format!("flags.h:{line}: an enum without a body"))?;
                read_enum_body(body, &mut header.constants)?;
                // enum tag : int32_t { ... } (C++23 / C23), or plain C (int).
                let underlying = before
                    .iter()
                    .position(|t| t.text == ":")
                    .and_then(|i| before.get(i + 1))
                    .map_or_else(|| "int32_t".to_owned(), |t| t.text.clone());
                let mut names: Vec<String> = Vec::new();
                if let Some(tag) = before.get(if words[0] == "typedef" { 2 } else { 1 }) {
                    if is_identifier(&tag.text) {
                        names.push(tag.text.clone());
                    }
                }
                if words[0] == "typedef" {
                    if let Some(alias) = after.last() {
                        names.push(alias.text.clone());
                    }
                }
                for name in names {
                    header.aliases.entry(name).or_insert(CType {
                        base: underlying.clone(),
                        pointers: 0,
                    });
                }
            }
            // typedef int32_t flags_result;
            ["typedef", ..] if !words.contains(&"(") => {
                let (ty, name) = c_declarator(&declaration[1..])?;
                let name =
                    name.ok_or_else(|| format!("flags.h:{line}: a typedef without a name"))?;
                header.aliases.insert(name, ty);
            }
            _ => {
                return Err(format!(
                    "flags.h:{line}: a declaration this checker does not understand: {}",
                    join(declaration)
                ));
            }
        }
    }
    Ok(header)
}

// ---------------------------------------------------------------------------
// The mapping between the two
// ---------------------------------------------------------------------------

/// C scalar types and their canonical names. `uintptr_t` is what cbindgen
/// writes for `usize` unless `usize_is_size_t` is set; both are `Size`.
const C_SCALARS: [(&str, &str); 10] = [
    ("bool", "bool"),
    ("_Bool", "bool"),
    ("int32_t", "int32_t"),
    ("uint32_t", "uint32_t"),
    ("int64_t", "int64_t"),
    ("uint64_t", "uint64_t"),
    ("size_t", "size_t"),
    ("uintptr_t", "size_t"),
    ("void", "void"),
    ("uint8_t", "uint8_t"),
];

/// Dart native types and the canonical C names they stand for.
const DART_SCALARS: [(&str, &str); 8] = [
    ("Bool", "bool"),
    ("Int32", "int32_t"),
    ("Uint32", "uint32_t"),
    ("Int64", "int64_t"),
    ("Uint64", "uint64_t"),
    ("Size", "size_t"),
    ("Void", "void"),
    ("Uint8", "uint8_t"),
];

/// Dart `Opaque` / `Struct` classes and the C types they stand for.
const OPAQUE_AND_STRUCTS: [(&str, &str); 5] = [
    ("FlagsSource", "flags_source"),
    ("FlagsContext", "flags_context"),
    ("FlagsClient", "flags_client"),
    ("FlagsEvaluation", "flags_evaluation"),
    ("FlagsRemoteOptions", "flags_remote_options"),
];

/// Text behind a pointer: `char *`, `const char *` and `uint8_t *` are all
/// bytes, and Dart's `Pointer<Char>`, `Pointer<Utf8>` and `Pointer<Uint8>`
/// all pass them.
const BYTES: &str = "char";

/// The canonical form of a C type: `int32_t`, `char*`, `flags_source**`.
fn canonical_c(header: &Header, ty: &CType) -> Result<String, String> {
    let mut ty = ty.clone();
    // Resolve typedefs (`flags_result` -> `int32_t`), a few levels deep.
    for _ in 0..8 {
        match header.aliases.get(&ty.base) {
            Some(alias) if alias.base != ty.base => {
                ty = CType {
                    base: alias.base.clone(),
                    pointers: ty.pointers + alias.pointers,
                };
            }
            _ => break,
        }
    }
    let base = if ty.pointers > 0 && matches!(ty.base.as_str(), "char" | "uint8_t") {
        BYTES.to_owned()
    } else if let Some((_, canonical)) = C_SCALARS.iter().find(|(c, _)| *c == ty.base) {
        (*canonical).to_owned()
    } else if header.opaque.contains(&ty.base) || header.structs.contains_key(&ty.base) {
        ty.base.clone()
    } else {
        return Err(format!("the C type {ty} is not in the mapping"));
    };
    Ok(format!("{base}{}", "*".repeat(ty.pointers)))
}

/// The canonical form of a Dart native type, in the same terms.
fn canonical_dart(ty: &DartType) -> Result<String, String> {
    match ty {
        DartType::Named(name, args) if name == "Pointer" => match args.as_slice() {
            [DartType::Named(inner, inner_args)]
                if inner_args.is_empty() && matches!(inner.as_str(), "Char" | "Utf8" | "Uint8") =>
            {
                Ok(format!("{BYTES}*"))
            }
            [inner] => Ok(format!("{}*", canonical_dart(inner)?)),
            _ => Err(format!("{ty}: Pointer takes one type argument")),
        },
        DartType::Named(name, args) if args.is_empty() => DART_SCALARS
            .iter()
            .chain(OPAQUE_AND_STRUCTS.iter())
            .find(|(dart, _)| *dart == name.as_str())
            .map(|(_, c)| (*c).to_owned())
            .ok_or_else(|| format!("the Dart native type {ty} is not in the mapping")),
        _ => Err(format!("the Dart native type {ty} is not in the mapping")),
    }
}

/// The Dart type an external function must declare for a native type:
/// `Int32` -> `int`, `Bool` -> `bool`, `Void` -> `void`, pointers as is.
fn dart_side(native: &DartType) -> String {
    match native {
        DartType::Named(name, args) if args.is_empty() => match name.as_str() {
            "Bool" => "bool".into(),
            "Void" => "void".into(),
            "Int8" | "Int16" | "Int32" | "Int64" | "Uint8" | "Uint16" | "Uint32" | "Uint64"
            | "Size" | "IntPtr" | "UintPtr" => "int".into(),
            "Float" | "Double" => "double".into(),
            _ => native.to_string(),
        },
        _ => native.to_string(),
    }
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The C name of a Dart constant: `FlagsResultCode.ok` -> `FLAGS_OK`,
/// `FlagsResultCode.invalidUtf8` -> `FLAGS_ERROR_INVALID_UTF8`,
/// `FlagsReasonCode.killAll` -> `FLAGS_REASON_KILL_ALL`.
fn c_constant_name(dart: &str) -> Option<String> {
    let (class, member) = dart.split_once('.')?;
    let upper = camel_to_snake(member).to_ascii_uppercase();
    match (class, member) {
        ("FlagsResultCode", "ok") => Some("FLAGS_OK".into()),
        ("FlagsResultCode", _) => Some(format!("FLAGS_ERROR_{upper}")),
        ("FlagsReasonCode", _) => Some(format!("FLAGS_REASON_{upper}")),
        _ => None,
    }
}

/// What the comparison covered.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    bindings: usize,
    structs: usize,
    fields: usize,
    constants: usize,
}

/// Compares the Dart bindings with a header. Returns every problem found.
fn check(dart: &[(String, String)], header_text: &str) -> Result<Summary, Vec<String>> {
    let header = parse_header(header_text).map_err(|e| vec![e])?;
    let api = read_dart_api(dart)?;
    let mut errors = Vec::new();
    let mut summary = Summary::default();

    if api.bindings.is_empty() {
        errors.push("no @Native bindings found in the Dart sources".to_owned());
    }
    let mut bound = BTreeSet::new();
    for binding in &api.bindings {
        let Binding {
            at, symbol, name, ..
        } = binding;
        if !bound.insert(symbol.clone()) {
            errors.push(format!("{at}: {symbol} is bound twice"));
        }
        let Some(function) = header.functions.get(symbol) else {
            errors.push(format!(
                "{at}: {name} binds {symbol}, which flags.h does not declare"
            ));
            continue;
        };
        summary.bindings += 1;
        let line = function.line;
        if binding.params.len() != function.params.len() {
            errors.push(format!(
                "{at}: {symbol} takes {} parameters in flags.h:{line} but {} in Dart \
                 ({} Function({}))",
                function.params.len(),
                binding.params.len(),
                binding.ret,
                binding
                    .params
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut compare = |what: &str, dart: &DartType, c: &CType| match (
            canonical_dart(dart),
            canonical_c(&header, c),
        ) {
            (Ok(d), Ok(cc)) if d == cc => {}
            (Ok(d), Ok(cc)) => errors.push(format!(
                "{at}: {symbol}: {what} is {dart} ({d}) in Dart but {c} ({cc}) in \
                     flags.h:{line}"
            )),
            (Err(e), _) | (_, Err(e)) => errors.push(format!("{at}: {symbol}: {what}: {e}")),
        };
        compare("the return type", &binding.ret, &function.ret);
        for (i, (dart, (c, c_name))) in binding.params.iter().zip(&function.params).enumerate() {
            let what = match c_name {
                Some(n) => format!("parameter {} ({n})", i + 1),
                None => format!("parameter {}", i + 1),
            };
            compare(&what, dart, c);
        }
        // The Dart function's own types must be those of the signature.
        let expected_ret = dart_side(&binding.ret);
        if binding.dart_ret.to_string() != expected_ret {
            errors.push(format!(
                "{at}: {name} returns {} but its native signature returns {} (so {expected_ret})",
                binding.dart_ret, binding.ret
            ));
        }
        if binding.dart_params.len() != binding.params.len() {
            errors.push(format!(
                "{at}: {name} has {} parameters but its native signature {}",
                binding.dart_params.len(),
                binding.params.len()
            ));
        }
        for (i, (dart, native)) in binding.dart_params.iter().zip(&binding.params).enumerate() {
            let expected = dart_side(native);
            if dart.to_string() != expected {
                errors.push(format!(
                    "{at}: {name}: parameter {} is {dart} but the native type {native} needs \
                     {expected}",
                    i + 1
                ));
            }
        }
    }
    for (name, function) in &header.functions {
        if !bound.contains(name) {
            errors.push(format!(
                "flags.h:{}: {name} is not bound in bindings/dart/lib/src/bindings.dart",
                function.line
            ));
        }
    }

    for (dart_name, c_name) in OPAQUE_AND_STRUCTS {
        let Some(c_fields) = header.structs.get(c_name) else {
            if !header.opaque.contains(c_name) {
                errors.push(format!(
                    "flags.h declares no type {c_name} (Dart {dart_name})"
                ));
            }
            continue;
        };
        let Some((at, dart_fields)) = api.structs.get(dart_name) else {
            errors.push(format!(
                "flags.h defines struct {c_name}, but the Dart sources have no `final class \
                 {dart_name} extends Struct`"
            ));
            continue;
        };
        summary.structs += 1;
        if dart_fields.len() != c_fields.len() {
            errors.push(format!(
                "{at}: {dart_name} has {} fields, {c_name} in flags.h has {}",
                dart_fields.len(),
                c_fields.len()
            ));
        }
        for (i, (dart, (c_field, c_type))) in dart_fields.iter().zip(c_fields).enumerate() {
            summary.fields += 1;
            let snake = camel_to_snake(&dart.name);
            if snake != *c_field {
                errors.push(format!(
                    "{}: {dart_name} field {} is {} but {c_name} field {} is {c_field}",
                    dart.at,
                    i + 1,
                    dart.name,
                    i + 1
                ));
            }
            match (canonical_dart(&dart.native), canonical_c(&header, c_type)) {
                (Ok(d), Ok(c)) if d == c => {}
                (Ok(d), Ok(c)) => errors.push(format!(
                    "{}: {dart_name}.{} is {} ({d}) but {c_name}.{c_field} is {c_type} ({c})",
                    dart.at, dart.name, dart.native
                )),
                (Err(e), _) | (_, Err(e)) => {
                    errors.push(format!("{}: {dart_name}.{}: {e}", dart.at, dart.name));
                }
            }
            let expected = dart_side(&dart.native);
            if dart.declared.to_string() != expected {
                errors.push(format!(
                    "{}: {dart_name}.{} is declared {} but its native type {} needs {expected}",
                    dart.at, dart.name, dart.declared, dart.native
                ));
            }
        }
    }

    let mut seen = BTreeSet::new();
    for (dart, (value, at)) in &api.constants {
        let Some(c_name) = c_constant_name(dart) else {
            continue;
        };
        seen.insert(c_name.clone());
        summary.constants += 1;
        match header.constants.get(&c_name) {
            Some(c_value) if c_value == value => {}
            Some(c_value) => {
                errors.push(format!(
                    "{at}: {dart} is {value} but {c_name} is {c_value} in flags.h"
                ));
            }
            None => errors.push(format!("{at}: {dart} stands for {c_name}, not in flags.h")),
        }
    }
    // Calls through `native.`: the binding exists and gets as many
    // arguments as it declares (the Dart analyzer would say so; there is no
    // Dart SDK here).
    for call in &api.calls {
        match api.bindings.iter().find(|b| b.name == call.name) {
            None => errors.push(format!(
                "{}: calls native.{}, which bindings.dart does not bind",
                call.at, call.name
            )),
            Some(binding) if binding.dart_params.len() != call.args => errors.push(format!(
                "{}: native.{} takes {} arguments, called with {}",
                call.at,
                call.name,
                binding.dart_params.len(),
                call.args
            )),
            Some(_) => {}
        }
    }

    for name in header.constants.keys() {
        let ours = name.starts_with("FLAGS_ERROR_")
            || name.starts_with("FLAGS_REASON_")
            || name == "FLAGS_OK";
        if ours && !seen.contains(name) {
            errors.push(format!(
                "flags.h: {name} has no constant in FlagsResultCode / FlagsReasonCode \
                 (bindings/dart/lib/src/bindings.dart)"
            ));
        }
    }

    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(errors)
    }
}

fn report(errors: &[String]) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = writeln!(out, "  {e}");
    }
    out
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

#[test]
fn every_dart_file_parses() {
    let files = dart_files();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "bindings/dart/lib/flags.dart",
        "bindings/dart/lib/src/bindings.dart",
        "bindings/dart/hook/build.dart",
        "bindings/dart/example/example.dart",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} is missing; found {names:?}"
        );
    }
    let errors: Vec<String> = files
        .iter()
        .flat_map(|(file, text)| syntax_errors(file, text))
        .collect();
    assert!(
        errors.is_empty(),
        "Dart syntax errors (tree-sitter-dart):\n{}",
        report(&errors)
    );
    println!("{} Dart files parse without errors", files.len());
}

#[test]
fn dart_bindings_match_flags_h() {
    let header = try_read_header(&header_path()).unwrap_or_else(|e| panic!("{e}"));
    match check(&dart_files(), &header) {
        Ok(summary) => println!(
            "flags.h and the Dart bindings agree: {} functions, {} structs ({} fields), {} \
             constants",
            summary.bindings, summary.structs, summary.fields, summary.constants
        ),
        Err(errors) => panic!(
            "the Dart bindings do not match flags-ffi/include/flags.h:\n{}",
            report(&errors)
        ),
    }
}

// ---------------------------------------------------------------------------
// Tests of the checker itself
// ---------------------------------------------------------------------------

/// The C ABI as the contract states it, written the way cbindgen writes
/// headers (include guard, `extern "C"` for C++, sized enums), to test the
/// checker on without the generated header.
const CONTRACT_HEADER: &str = r#"/* Written from the C ABI contract, for the checker's tests. */
#ifndef FLAGS_H
#define FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stable result codes (sized the way cbindgen 0.29 writes it). */
enum flags_result
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  FLAGS_OK = 0,
  FLAGS_ERROR_NULL_ARGUMENT = 1,
  FLAGS_ERROR_INVALID_UTF8 = 2,
  FLAGS_ERROR_INVALID_FLAGS = 3,
  FLAGS_ERROR_IO = 4,
  FLAGS_ERROR_INVALID_CONTEXT = 5,
  FLAGS_ERROR_REMOTE = 6,
  FLAGS_ERROR_INVALID_ARGUMENT = 7,
  FLAGS_ERROR_PANIC = 8,
  FLAGS_ERROR_CONFLICT = 9,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum flags_result flags_result;
#else
typedef int32_t flags_result;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

enum flags_reason
#ifdef __cplusplus
  : int32_t
#endif // __cplusplus
 {
  FLAGS_REASON_KILL_ALL = 0,
  FLAGS_REASON_FLAG_NOT_FOUND = 1,
  FLAGS_REASON_KILLED = 2,
  FLAGS_REASON_REQUIREMENT_UNMET = 3,
  FLAGS_REASON_DENIED = 4,
  FLAGS_REASON_PILOT = 5,
  FLAGS_REASON_ROLLOUT_IN = 6,
  FLAGS_REASON_ROLLOUT_OUT = 7,
  FLAGS_REASON_MISSING_BUCKET_KEY = 8,
};
#ifndef __cplusplus
typedef int32_t flags_reason;
#endif // __cplusplus

typedef struct flags_client flags_client;
typedef struct flags_context flags_context;
typedef struct flags_source flags_source;

typedef struct flags_evaluation {
  bool enabled;
  int32_t reason;      /* FLAGS_REASON_* */
  int32_t bucket;      /* 0..9999, or -1 when not reported */
  char *variant;       /* owned, NULL when none */
} flags_evaluation;

typedef struct flags_remote_options {
  const char *url;
  const char *cache_path;
  const char *token;
  uint32_t refresh_interval_ms;
  uint32_t timeout_ms;
  bool stream;
} flags_remote_options;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

const char *flags_library_version(void);
const char *flags_result_message(int32_t code);
const char *flags_reason_name(int32_t reason);
void flags_string_free(char *s);

int32_t flags_source_open_file(const char *path, size_t path_len, uint32_t check_interval_ms,
                               flags_source **out, char **error_out);
int32_t flags_source_open_file_shared(const char *path, size_t path_len, uint32_t check_interval_ms,
                                      flags_source **out, char **error_out);
const flags_source *flags_source_shared(const char *path, size_t path_len,
                                        uint32_t check_interval_ms);
int32_t flags_source_open_json(const char *json, size_t json_len, flags_source **out,
                               char **error_out);
int32_t flags_source_open_remote(const flags_remote_options *options, flags_source **out,
                                 char **error_out);
void flags_source_free(struct flags_source *source);
int32_t flags_source_version(const flags_source *source, char **out);
uint64_t flags_source_generation(const flags_source *source);
int32_t flags_source_status_json(const flags_source *source, char **out);

/* cbindgen's style = "both" writes struct tags in prototypes. */
struct flags_context *flags_context_new(void);
int32_t flags_context_set(flags_context *ctx, const char *attribute, size_t attribute_len,
                          const char *value, size_t value_len);
int32_t flags_context_remove(flags_context *ctx, const char *attribute, size_t attribute_len);
int32_t flags_context_from_json(const char *json, size_t json_len, flags_context **out,
                                char **error_out);
flags_context *flags_context_parse(const char *json, size_t json_len);
void flags_context_free(flags_context *ctx);

bool flags_is_enabled(const flags_source *source, const char *flag, size_t flag_len,
                      const flags_context *ctx);
int32_t flags_evaluate(const flags_source *source, const char *flag, size_t flag_len,
                       const flags_context *ctx, flags_evaluation *out);
int32_t flags_evaluate_at(const flags_source *source, const char *flag, size_t flag_len,
                          const flags_context *ctx, int64_t now_unix_ms, flags_evaluation *out);
void flags_evaluation_clear(flags_evaluation *evaluation);
int32_t flags_evaluate_all_json(const flags_source *source, const flags_context *ctx, char **out);
int32_t flags_evaluate_all_json_at(const flags_source *source, const flags_context *ctx,
                                   int64_t now_unix_ms, char **out);

int32_t flags_file_edit(const char *request_json, size_t request_len, char **out, char **error_out);
int32_t flags_file_status_json(const char *path, size_t path_len, int64_t now_unix_ms, char **out,
                               char **error_out);

int32_t flags_file_monitor_json(const char *path, size_t path_len, const char *prometheus_url,
                                size_t url_len, uint32_t timeout_ms, char **out, char **error_out);

int32_t flags_client_open(const flags_remote_options *options, const flags_context *ctx,
                          flags_client **out, char **error_out);
void flags_client_free(flags_client *client);
bool flags_client_is_enabled(const flags_client *client, const char *flag, size_t flag_len);
int32_t flags_client_evaluate(const flags_client *client, const char *flag, size_t flag_len,
                              flags_evaluation *out);
int32_t flags_client_variant(const flags_client *client, const char *flag, size_t flag_len,
                             char **out);
int32_t flags_client_set_context(const flags_client *client, const flags_context *ctx,
                                 char **error_out);
int32_t flags_client_refresh(const flags_client *client, bool *changed_out, char **error_out);
int32_t flags_client_status_json(const flags_client *client, char **out);
int32_t flags_client_version(const flags_client *client, char **out);
uint64_t flags_client_generation(const flags_client *client);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* FLAGS_H */
"#;

/// The real Dart sources with `bindings.dart` edited by `edit`.
fn dart_with(edit: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut files = dart_files();
    let bindings = files
        .iter_mut()
        .find(|(name, _)| name.ends_with("lib/src/bindings.dart"))
        .unwrap_or_else(|| panic!("bindings/dart/lib/src/bindings.dart is missing"));
    let edited = edit(&bindings.1);
    assert_ne!(edited, bindings.1, "the edit changed nothing");
    bindings.1 = edited;
    files
}

fn expect_errors(result: Result<Summary, Vec<String>>, needles: &[&str]) {
    let errors = match result {
        Ok(summary) => panic!("the checker accepted a wrong binding: {summary:?}"),
        Err(errors) => errors,
    };
    let all = report(&errors);
    for needle in needles {
        assert!(
            all.contains(needle),
            "expected {needle:?} among the errors:\n{all}"
        );
    }
}

#[test]
fn checker_accepts_the_dart_bindings_against_the_contract() {
    let summary = check(&dart_files(), CONTRACT_HEADER)
        .unwrap_or_else(|errors| panic!("against the contract:\n{}", report(&errors)));
    assert_eq!(
        summary,
        Summary {
            bindings: 38,
            structs: 2,
            fields: 10,
            constants: 19
        },
        "every function, both structs and every number of the contract are checked"
    );
}

#[test]
fn checker_parses_the_contract_header() {
    let header = parse_header(CONTRACT_HEADER).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.functions.len(), 38);
    assert!(header.opaque.contains("flags_source") && header.opaque.contains("flags_context"));
    assert!(header.opaque.contains("flags_client"));
    let open = &header.functions["flags_source_open_file"];
    let params: Vec<String> = open
        .params
        .iter()
        .map(|(t, _)| canonical_c(&header, t).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(
        params,
        ["char*", "size_t", "uint32_t", "flags_source**", "char**"]
    );
    assert_eq!(header.constants["FLAGS_ERROR_PANIC"], 8);
    assert_eq!(header.constants["FLAGS_ERROR_CONFLICT"], 9);
    assert_eq!(header.constants["FLAGS_REASON_MISSING_BUCKET_KEY"], 8);
    // C++-only text (`: int32_t` after the enum name) is not read as C.
    assert_eq!(
        header.aliases["flags_result"],
        CType {
            base: "int32_t".into(),
            pointers: 0
        }
    );
}

#[test]
fn checker_rejects_a_native_call_with_a_wrong_argument_count_or_name() {
    let header = try_read_header(&header_path()).unwrap_or_else(|e| panic!("{e}"));
    let mut files = dart_files();
    let client = files
        .iter_mut()
        .find(|(name, _)| name.ends_with("lib/src/client.dart"))
        .unwrap_or_else(|| panic!("bindings/dart/lib/src/client.dart is missing"));
    let call = "native.flagsClientIsEnabled(client, bytes, length)";
    assert!(client.1.contains(call), "the call the test edits");
    client.1 = client
        .1
        .replacen(call, "native.flagsClientIsEnabled(client, bytes)", 1)
        .replacen(
            "native.flagsClientGeneration(",
            "native.flagsClientGenerations(",
            1,
        );
    expect_errors(
        check(&files, &header),
        &[
            "native.flagsClientIsEnabled takes 3 arguments, called with 2",
            "calls native.flagsClientGenerations, which bindings.dart does not bind",
        ],
    );
}

#[test]
fn checker_rejects_a_wrong_parameter_type() {
    // flags_is_enabled takes a size_t length, not an int32_t.
    let dart = dart_with(|s| {
        s.replacen(
            "  Bool Function(\n    Pointer<FlagsSource>,\n    Pointer<Uint8>,\n    Size,",
            "  Bool Function(\n    Pointer<FlagsSource>,\n    Pointer<Uint8>,\n    Int32,",
            1,
        )
    });
    expect_errors(
        check(&dart, CONTRACT_HEADER),
        &["flags_is_enabled: parameter 3 (flag_len) is Int32 (int32_t) in Dart but size_t"],
    );
}

#[test]
fn checker_rejects_a_symbol_missing_from_the_header() {
    let header = CONTRACT_HEADER.replace(
        "uint64_t flags_source_generation(const flags_source *source);\n",
        "",
    );
    expect_errors(
        check(&dart_files(), &header),
        &["flagsSourceGeneration binds flags_source_generation, which flags.h does not declare"],
    );
}

#[test]
fn checker_rejects_a_misspelled_symbol_and_an_unbound_function() {
    let dart = dart_with(|s| {
        s.replacen(
            "symbol: 'flags_context_remove'",
            "symbol: 'flags_ctx_remove'",
            1,
        )
    });
    expect_errors(
        check(&dart, CONTRACT_HEADER),
        &[
            "binds flags_ctx_remove, which flags.h does not declare",
            "flags_context_remove is not bound",
        ],
    );
}

#[test]
fn checker_rejects_a_wrong_parameter_count_and_return_type() {
    let header = CONTRACT_HEADER
        .replace(
            "int32_t flags_source_version(const flags_source *source, char **out);",
            "int32_t flags_source_version(const flags_source *source);",
        )
        .replace(
            "bool flags_is_enabled(const flags_source *source",
            "int32_t flags_is_enabled(const flags_source *source",
        );
    expect_errors(
        check(&dart_files(), &header),
        &[
            "flags_source_version takes 1 parameters in flags.h",
            "flags_is_enabled: the return type is Bool (bool) in Dart but int32_t",
        ],
    );
}

#[test]
fn checker_rejects_dart_types_that_disagree_with_the_native_signature() {
    let dart = dart_with(|s| {
        s.replacen(
            "external int flagsSourceGeneration(",
            "external bool flagsSourceGeneration(",
            1,
        )
    });
    expect_errors(
        check(&dart, CONTRACT_HEADER),
        &["flagsSourceGeneration returns bool but its native signature returns Uint64 (so int)"],
    );
}

#[test]
fn checker_rejects_a_struct_layout_change() {
    // Swapped fields of the same type: only the names tell.
    let header = CONTRACT_HEADER.replace(
        "  const char *cache_path;\n  const char *token;",
        "  const char *token;\n  const char *cache_path;",
    );
    expect_errors(
        check(&dart_files(), &header),
        &["FlagsRemoteOptions field 2 is cachePath but flags_remote_options field 2 is token"],
    );
    // A type change.
    let header = CONTRACT_HEADER.replace("  int32_t bucket;", "  uint32_t bucket;");
    expect_errors(
        check(&dart_files(), &header),
        &["FlagsEvaluation.bucket is Int32 (int32_t) but flags_evaluation.bucket is uint32_t"],
    );
    // A new field.
    let header =
        CONTRACT_HEADER.replace("  bool stream;\n", "  bool stream;\n  uint32_t retries;\n");
    expect_errors(
        check(&dart_files(), &header),
        &["FlagsRemoteOptions has 6 fields, flags_remote_options in flags.h has 7"],
    );
}

#[test]
fn checker_rejects_renumbered_constants() {
    let header = CONTRACT_HEADER.replace("FLAGS_REASON_PILOT = 5", "FLAGS_REASON_PILOT = 9");
    expect_errors(
        check(&dart_files(), &header),
        &["FlagsReasonCode.pilot is 5 but FLAGS_REASON_PILOT is 9 in flags.h"],
    );
    let header = CONTRACT_HEADER.replace(
        "  FLAGS_ERROR_CONFLICT = 9,\n",
        "  FLAGS_ERROR_CONFLICT = 9,\n  FLAGS_ERROR_TIMEOUT = 10,\n",
    );
    expect_errors(
        check(&dart_files(), &header),
        &["FLAGS_ERROR_TIMEOUT has no constant in FlagsResultCode"],
    );
}

#[test]
fn checker_reads_a_standalone_snippet() {
    // A deliberately wrong snippet on its own: the length as Uint32, and an
    // out-parameter one pointer short.
    let snippet = r#"
import 'dart:ffi';

final class FlagsSource extends Opaque {}

@Native<Int32 Function(Pointer<Uint8>, Uint32, Pointer<Pointer<FlagsSource>>, Pointer<Char>)>(
  symbol: 'flags_source_open_json',
)
external int openJson(Pointer<Uint8> json, int length, Pointer<Pointer<FlagsSource>> out,
    Pointer<Char> error);
"#;
    let files = vec![("snippet.dart".to_owned(), snippet.to_owned())];
    expect_errors(
        check(&files, CONTRACT_HEADER),
        &[
            "snippet.dart:6: flags_source_open_json: parameter 2 (json_len) is Uint32",
            "(json_len) is Uint32 (uint32_t) in Dart but size_t (size_t) in flags.h",
            "parameter 4 (error_out) is Pointer<Char> (char*) in Dart but char** (char**)",
        ],
    );
}

#[test]
fn checker_reports_syntax_errors_with_their_position() {
    let errors = syntax_errors("broken.dart", "void main() {\n  final x = f(;\n}\n");
    assert!(
        errors.iter().any(|e| e.starts_with("broken.dart:2:")),
        "expected an error on line 2: {errors:?}"
    );
    let errors = syntax_errors("missing.dart", "void main() {\n  print('a')\n}\n");
    assert!(!errors.is_empty(), "a missing semicolon must be reported");
    let clean = syntax_errors("ok.dart", "void main() {\n  print('a');\n}\n");
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn checker_fails_loudly_without_a_header() {
    let missing = repo_root().join("flags-ffi/include/no-such-header.h");
    let message = try_read_header(&missing).expect_err("a missing header must be an error");
    assert!(
        message.contains("flags-ffi/include/flags.h is missing"),
        "{message}"
    );
}
