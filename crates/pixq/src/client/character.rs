//! `pixq character create IMAGE_URL… [--name N]` and `pixq character list`: reusable
//! characters, made upstream from images, named so jobs, batch defaults and CSV columns can
//! use them as `asset_id`.
//!
//! Making one is paid work, so `create` always sends an `Idempotency-Key`: by default one
//! derived from the images and the name, so running the same command again (after a timeout,
//! say) answers the character made the first time instead of paying for another. Give
//! `--idempotency-key` to make a second one from the same images.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{ApiArgs, ApiClient, Outcome, plain};

/// The flags of `pixq character`.
#[derive(Debug, clap::Args)]
pub struct CharacterArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CharacterAction,
}

/// `pixq character create` or `list`.
#[derive(Debug, clap::Subcommand)]
pub enum CharacterAction {
    /// Make a character upstream from images (paid work, made once per idempotency key).
    Create(CreateArgs),
    /// List the characters, newest first.
    List(ListArgs),
}

/// The flags of `pixq character create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The images (http or https URLs) the character is made from.
    #[arg(value_name = "IMAGE_URL", required = true)]
    pub images: Vec<String>,

    /// A name jobs can use instead of the asset id (unique; not all digits).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The Idempotency-Key to send (default: derived from the images and the name).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Print the character object as JSON.
    #[arg(long)]
    pub json: bool,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The flags of `pixq character list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq character …` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: CharacterArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        CharacterAction::Create(args) => create(&args).await.emit(),
        CharacterAction::List(args) => list(&args).await.emit(),
    }
}

/// The request body of `create`.
fn body(args: &CreateArgs) -> Value {
    let mut body = json!({"images": args.images});
    if let Some(name) = &args.name {
        body["name"] = Value::from(name.as_str());
    }
    body
}

/// The key `create` sends: the one given, or one derived from the body, so the same command
/// run twice is one character.
fn idempotency_key(args: &CreateArgs, body: &Value) -> String {
    match &args.idempotency_key {
        Some(key) => key.clone(),
        None => {
            let digest = pixq_core::spec::fingerprint(body);
            format!("pixq-character-{}", &digest[..digest.len().min(32)])
        }
    }
}

async fn create(args: &CreateArgs) -> Outcome {
    let context = "character create";
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(context, &err),
    };
    let body = body(args);
    let key = idempotency_key(args, &body);
    match client.create_character(&body, &key).await {
        Ok(character) if args.json => Outcome::ok(format!("{character}\n")),
        Ok(character) => Outcome::ok(format!(
            "{}  asset_id {}{}\n",
            plain(character["id"].as_str().unwrap_or("?")),
            character["asset_id"],
            character["name"]
                .as_str()
                .map(|n| format!("  name {}", plain(n)))
                .unwrap_or_default(),
        )),
        Err(err) => Outcome::error(context, &err),
    }
}

async fn list(args: &ListArgs) -> Outcome {
    let context = "character list";
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(context, &err),
    };
    match client.characters().await {
        Ok(characters) if args.json => {
            Outcome::ok(format!("{}\n", json!({"characters": characters})))
        }
        Ok(characters) => Outcome::ok(table(&characters)),
        Err(err) => Outcome::error(context, &err),
    }
}

/// The characters as a table: id, asset id, name, images, created.
fn table(characters: &[Value]) -> String {
    let mut out = format!(
        "{:<40}  {:<16}  {:<20}  {:>6}  CREATED\n",
        "ID", "ASSET_ID", "NAME", "IMAGES"
    );
    for c in characters {
        out.push_str(&format!(
            "{:<40}  {:<16}  {:<20}  {:>6}  {}\n",
            plain(c["id"].as_str().unwrap_or("?")),
            c["asset_id"],
            plain(c["name"].as_str().unwrap_or("-")),
            c["images"].as_array().map_or(0, Vec::len),
            plain(c["created_at"].as_str().unwrap_or("")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(images: &[&str], name: Option<&str>) -> CreateArgs {
        CreateArgs {
            images: images.iter().map(|s| (*s).to_owned()).collect(),
            name: name.map(str::to_owned),
            idempotency_key: None,
            json: false,
            api: ApiArgs {
                api: url::Url::parse("http://127.0.0.1:8080").unwrap(),
                token: None,
            },
        }
    }

    #[test]
    fn the_same_command_sends_the_same_key_and_another_body_another() {
        let a = args(&["https://x/a.png"], Some("hero"));
        let b = args(&["https://x/a.png"], Some("hero"));
        let c = args(&["https://x/a.png"], Some("villain"));
        let key = |a: &CreateArgs| idempotency_key(a, &body(a));
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        assert!(key(&a).starts_with("pixq-character-"));
        let mut given = args(&["https://x/a.png"], None);
        given.idempotency_key = Some("mine".into());
        assert_eq!(key(&given), "mine");
    }

    #[test]
    fn the_table_shows_each_character_on_a_line() {
        let rows = table(&[json!({"id": "chr_1", "asset_id": 42, "name": "hero",
            "images": ["a", "b"], "created_at": "2026-12-01T00:00:00Z"})]);
        assert!(rows.lines().nth(1).unwrap().contains("chr_1"), "{rows}");
        assert!(rows.contains("42") && rows.contains("hero"), "{rows}");
    }
}
