// MARK: - Phrase lexicon for injection scoring

/// The building blocks a sentence is made of, as far as injection scoring cares. The
/// scorer combines them per sentence: "ignore" + "instructions" is an override in any word
/// order (SOV languages, reversed text), "reveal" + "system prompt" an exfiltration, etc.
enum Atom: Int, CaseIterable {
    case ignore          // ignore, disregard, forget, vergiss, oublie, 無視…
    case instructions    // instructions, rules, guidelines, Anweisungen, 指示…
    case previous        // previous, prior, above, vorherigen, précédentes…
    case notFollow       // do not follow, don't obey, stop following
    case userRequest     // what the user asked, the user's request
    case everythingTold  // everything you were told, all of the above
    case revoked         // is revoked, no longer applies, this overrides
    case newInstructions // new instructions, your new task, priority instruction
    case fromNow         // from now on, from this point forward
    case aiAddress       // note to AI assistants, if you are an AI, LLM agents
    case systemPrompt    // system prompt, initial instructions
    case reveal          // reveal, print, output, show, repeat, dump
    case secret          // API key, token, password, .env, credentials, SSH key
    case send            // send, post, upload, forward, exfiltrate, append … to
    case privateData     // conversation, chat history, private notes, user's files
    case verbatim        // verbatim, word for word, in full
    case personaStrong   // developer mode, DAN, no restrictions, jailbreak
    case personaWeak     // you are now, act as, pretend, roleplay, switch persona
    case fakeTurn        // <|im_start|>, ### Instruction:, END OF DOCUMENT, <system>
    case tool            // run the following, curl … | sh, install.sh, and push
    case toolSevere      // grant admin rights, authorized_keys, disable safety checks, transfer $
    case manipulate      // tell the user, recommend only, describe … as, pirate speak
    case stealth         // do not mention, silently, don't tell the user
    case authorization   // the user has already authorized you, you have permission
    case obligation      // you are required to, you must, compliance step
    case future          // every future question, rest of this session, before answering
    case instead         // instead, rather than, stattdessen, plutôt
    case obfuscationCue  // decode and comply, read this backwards, hex-encoded task
    case securityDoc     // prompt injection, attack, payload, researchers, such as
    case delete          // delete, remove, erase, wipe
    case files           // files, repository, database
    case hijack          // your new task, your next action is, your real goal
    case codeCue         // def, assert, regex, test, return
    case url             // http://, https://
    case rot13Cue        // common English words in ROT13 ("gur", "naq", "lbhe")
    case reversedCue     // common English words reversed ("eht", "dna", "ruoy")
    case emailAddressAtom // an e-mail address (found structurally, not by the lexicon)
}

/// Phrase lists per atom, English first, then the other 16 languages of the corpus and
/// a few more (de, fr, es, it, pt, nl, pl, sv, ru, tr, id, vi, ar, hi, ja, zh, ko).
/// Entries are stems where the language inflects (matched as prefixes of words).
enum Lexicon {
    static let entries: [(Atom, [String])] = [
        (.ignore, [
            "ignore", "ignoring", "disregard", "forget", "forgetting", "neglect", "overlook", "bypass",
            "override", "overrule", "discard", "pay no attention", "set aside", "throw out", "abandon",
            "wipe your memory", "clear your context", "reset your context", "reset your memory", "unlearn", "dismiss", "cancel", "abort", "terminate", "pay no heed", "do not heed", "stop obeying",
            "never mind", "nevermind", "scratch that", "belay", "supersede",
            // de
            "ignorier", "vergiss", "vergessen sie", "missachte", "missachten", "übergehe", "verwirf",
            "beachte nicht", "nicht beachten", "setze dich über",
            // fr
            "ignore", "ignorez", "oublie", "oubliez", "ne tiens pas compte", "ne tenez pas compte",
            "fais abstraction", "faites abstraction", "passe outre", "outrepasse",
            // es
            "ignora", "ignore", "ignoren", "olvida", "olvide", "olviden", "haz caso omiso", "omite", "descarta",
            "no hagas caso",
            // it
            "ignora", "ignorate", "dimentica", "dimenticate", "trascura", "non considerare", "non tenere conto",
            // pt
            "ignore", "ignora", "esqueça", "esqueca", "esqueçam", "desconsidere", "desconsidera", "despreze",
            // nl
            "negeer", "vergeet", "ignoreer", "sla alle", "houd geen rekening",
            // pl
            "zignoruj", "ignoruj", "zapomnij", "pomiń", "pomin", "nie zważaj", "odrzuć",
            // sv
            "ignorera", "glöm", "strunta i", "bortse från", "bortse fran", "åsidosätt",
            // ru
            "игнорируй", "игнорируйте", "проигнорируй", "забудь", "забудьте", "не обращай внимания",
            "не обращайте внимания", "отбрось", "пренебреги",
            // tr
            "yok say", "görmezden gel", "gormezden gel", "unut", "dikkate alma", "önemseme", "boşver",
            // id
            "abaikan", "lupakan", "acuhkan", "hiraukan",
            // vi
            "bỏ qua", "quên", "phớt lờ", "lờ đi", "không cần tuân theo",
            // ar
            "تجاهل", "انس", "انسى", "أهمل", "اهمل", "تغاضى",
            // hi
            "अनदेखा", "भूल जाओ", "भूल जाइए", "भूल जाएं", "नज़रअंदाज़", "नजरअंदाज", "ध्यान मत दो",
            // ja
            "無視", "忘れ", "従わな",
            // zh
            "忽略", "忘记", "忘掉", "无视", "無視", "不要理会", "不理会", "抛开",
            // ko
            "무시", "잊어", "잊으", "잊고",
        ]),
        (.instructions, [
            "instruction", "directive", "directions", "rules", "guideline", "guidance", "programming",
            "constraint", "restriction", "guardrail", "safeguard", "policies", "prompt", "system message",
            "orders", "commands", "training", "conditioning", "context window", "safety settings",
            "content policy", "moderation", "your programming", "your directives", "your safety",
            "content filters", "alignment", "what you were instructed", "directions you were given",
            // de
            "anweisung", "instruktion", "regeln", "richtlinie", "vorgaben", "befehle", "systemprompt",
            "vorschriften", "beschränkungen", "einschränkungen",
            // fr
            "consigne", "règles", "regles", "directives", "invite système",
            // es
            "instruccion", "instrucción", "indicaciones", "reglas", "directrices", "órdenes", "normas",
            // it
            "istruzion", "regole", "direttive", "indicazioni",
            // pt
            "instruç", "instruc", "regras", "diretrizes", "orientações", "orientacoes",
            // nl
            "instructie", "regels", "richtlijnen", "opdrachten", "aanwijzingen",
            // pl
            "instrukc", "polece", "zasad", "reguł", "regul", "wytyczn",
            // sv
            "instruktion", "regler", "riktlinjer", "direktiv",
            // ru
            "инструкци", "указани", "правил", "директив", "промпт", "ограничени",
            // tr
            "talimat", "kurallar", "kuralları", "yönerge", "yonerge", "komutlar", "kısıtlama",
            // id
            "instruksi", "petunjuk", "aturan", "perintah",
            // vi
            "hướng dẫn", "chỉ dẫn", "quy tắc", "chỉ thị", "mệnh lệnh",
            // ar
            "تعليمات", "التعليمات", "تعليماتك", "الأوامر", "أوامر", "القواعد", "قواعد", "إرشادات",
            // hi
            "निर्देश", "नियम", "हिदायत",
            // ja
            "指示", "命令", "ルール", "規則", "プロンプト", "制約",
            // zh
            "指令", "指示", "规则", "規則", "提示词", "约束",
            // ko
            "지침", "지시", "명령", "규칙", "프롬프트", "제한",
        ]),
        (.previous, [
            "previous", "prior", "above", "earlier", "preceding", "former", "original", "initial",
            "existing", "all of your", "all your", "any of your", "everything above", "old",
            // de
            "vorherig", "bisherig", "obigen", "vorangegangen", "früher", "frueher", "alle",
            // fr
            "précédent", "precedent", "antérieur", "anterieur", "ci-dessus", "toutes les",
            // es
            "anterior", "previas", "todas las",
            // it
            "precedent", "tutte le",
            // pt
            "anteriores", "prévias", "todas as",
            // nl
            "vorige", "eerdere", "voorgaande", "alle",
            // pl
            "poprzedni", "wcześniejsz", "wczesniejsz", "wszystkie",
            // sv
            "tidigare", "föregående", "foregaende", "alla",
            // ru
            "предыдущ", "прежн", "все ", "вышеуказанн",
            // tr
            "önceki", "onceki", "tüm", "bütün",
            // id
            "sebelumnya", "semua",
            // vi
            "trước đó", "tất cả",
            // ar
            "السابقة", "السابق",
            // hi
            "पहले", "पिछले", "सभी",
            // ja
            "これまで", "以前", "前の", "上記",
            // zh
            "之前", "以前", "先前", "上述", "所有",
            // ko
            "앞의", "이전", "모든",
        ]),
        (.notFollow, [
            "do not follow", "don't follow", "dont follow", "stop following", "never follow", "do not obey",
            "don't obey", "no longer follow", "no longer need to follow", "not bound by", "free from",
            "befolge nicht", "ne suis pas", "ne suivez pas", "no sigas", "non seguire", "não siga", "nao siga",
            "volg niet", "nie przestrzegaj", "följ inte", "не следуй", "не выполняй", "uyma", "jangan ikuti",
            "đừng làm theo",
        ]),
        (.userRequest, [
            "what the user asked", "the user asked", "user's request", "users request", "user request",
            "user's question", "the user wants", "user's instructions", "user instructions", "the user said",
            "original request", "original task", "the user's original", "current task", "task at hand",
            "current assignment", "what you were asked", "what you are doing",
            "anfrage des nutzers", "demande de l'utilisateur", "solicitud del usuario", "richiesta dell'utente",
            "pedido do usuário",
        ]),
        (.everythingTold, [
            "everything you were told", "everything you've been told", "everything you have been told",
            "everything above", "everything before", "all of the above", "everything previously",
            "anything you were told", "what you were told", "everything so far", "the above", "all above",
            "the preceding", "everything prior", "alles was dir gesagt",
            "tout ce qu'on t'a dit", "todo lo que te dijeron",
        ]),
        (.revoked, [
            "is revoked", "are revoked", "has been revoked", "have been revoked", "is void", "are void",
            "no longer applies", "no longer apply", "no longer valid", "are cancelled", "is cancelled",
            "are canceled", "is canceled", "is overridden", "are overridden", "this overrides",
            "supersedes all", "supersede all", "takes precedence over", "take precedence over",
            "overrides the user", "overrides all", "override the user", "is suspended", "are suspended",
            "have been lifted", "has been lifted", "are lifted",
            "ist aufgehoben", "sind aufgehoben", "est révoqué", "sont révoquées", "queda revocado",
            "è revocato", "foi revogado", "аннулирован", "отменены",
        ]),
        (.newInstructions, [
            "new instructions", "new instruction", "updated instructions", "new system instructions",
            "new rules", "real instructions", "actual instructions", "true instructions", "revised instructions",
            "additional instructions", "priority instruction", "agent instructions", "instructions for the assistant",
            "instructions for ai", "hidden instructions", "secret instructions", "new directive", "new task",
            "new objective", "new orders", "new system prompt", "override:", "new priority", "priority override",
            "neue anweisung", "neue anweisungen", "nouvelle instruction", "nouvelles instructions",
            "nueva instrucción", "nuevas instrucciones", "nueva instruccion", "nuova istruzione", "nuove istruzioni",
            "nova instrução", "novas instruções", "nova instrucao", "nieuwe instructie", "nieuwe instructies",
            "nowa instrukcja", "nowe instrukcje", "nowe polecenie", "ny instruktion", "nya instruktioner",
            "новая инструкция", "новые инструкции", "yeni talimat", "instruksi baru", "hướng dẫn mới",
            "تعليمات جديدة", "नया निर्देश", "नए निर्देश", "新しい指示", "新的指令", "新指令", "새로운 지침", "새 지침",
        ]),
        (.fromNow, [
            "for all subsequent", "from here forward", "from now on", "from this point forward", "from this point on", "from here on", "from this moment",
            "henceforth", "from now onwards", "ab sofort", "ab jetzt", "désormais", "dorénavant", "a partir de ahora",
            "de ahora en adelante", "d'ora in poi", "da ora in poi", "a partir de agora", "vanaf nu", "od teraz",
            "från och med nu", "отныне", "с этого момента", "bundan sonra", "mulai sekarang", "từ bây giờ",
            "من الآن فصاعدا", "अब से", "今後", "これから", "从现在开始", "从现在起", "지금부터", "이제부터",
        ]),
        (.aiAddress, [
            "note to ai", "notice to ai", "note for ai", "message for ai", "message to ai", "attention ai",
            "to all ai", "for ai agents", "for ai assistants", "for ai models", "for ai tools", "for ai systems",
            "ai agents", "ai agent:", "ai assistants", "ai assistant:", "ai models", "ai model summarizing",
            "ai model reading", "ai model processing", "ai tools", "ai systems", "llm agents", "llm agent",
            "llms reading", "message for llm", "message for llms", "coding agent", "coding agents",
            "coding assistant", "autonomous agent", "if you are an ai", "if you're an ai", "if you are a language model",
            "if you are an llm", "if you are an assistant", "if you are a bot", "if you are chatgpt",
            "if you are claude", "as an ai language model", "as an ai model", "as an ai assistant",
            "as a language model", "language model processing", "language model reading", "dear ai", "hey ai",
            "attention llm", "attention assistant", "attention language model", "attention model", "attention, ai",
            "attention: ai", "language model:", "llm:", "ai:", "assistants reading", "agents reading", "models reading",
            "bots reading", "crawlers reading", "any ai", "every ai", "instructions for the assistant",
            "to the ai", "to the model", "to the llm", "ai reader", "automated assistant", "automated agents",
            "ai reviewer", "ai summarizer", "summarization model", "browsing agent", "web agent", "autonomous ai",
            "ai crawler", "ai scraper", "if an ai",
            "when an ai", "ai-powered assistant", "ai that reads", "ai system reading", "model reading this",
            "for the assistant", "to the assistant", "assistant must", "agent must",
            "ki-assistent", "ki assistent", "ki-agent", "für ki", "an die ki", "hinweis für ki",
            "assistants ia", "agents ia", "assistant ia", "pour les ia", "aux ia", "à l'ia", "note pour l'ia",
            "asistentes de ia", "agentes de ia", "asistente de ia", "para la ia", "a la ia",
            "assistenti ia", "agenti ia", "assistente ia", "per l'ia", "all'ia",
            "assistentes de ia", "agentes de ia", "para a ia", "à ia",
            "ai-assistenten", "ai-agenten", "voor ai", "asystentów ai", "asystenci ai", "agenci ai", "dla ai",
            "ai-assistenter", "ai-agenter", "till ai", "ии-ассистент", "ии-агент", "для ии", "нейросет",
            "yapay zeka", "asisten ai", "agen ai", "untuk ai", "trợ lý ai", "tác nhân ai", "gửi ai",
            "الذكاء الاصطناعي", "مساعدي الذكاء", "एआई सहायक", "एआई एजेंट", "aiアシスタント", "aiエージェント",
            "ai助手", "ai 助手", "人工智能", "ai 어시스턴트", "ai 에이전트", "ai어시스턴트",
        ]),
        (.systemPrompt, [
            "system prompt", "systemprompt", "system-prompt", "initial prompt", "hidden prompt",
            "original prompt", "system instructions", "initial instructions", "developer message",
            "developer instructions", "your prompt", "your instructions", "your configuration", "pre-prompt",
            "prompt système", "prompt systeme", "invite système", "prompt del sistema", "prompt di sistema",
            "prompt do sistema", "systeemprompt", "prompt systemowy", "prompt systemowego", "systemprompten",
            "системный промпт", "системные инструкции", "системную подсказку", "sistem istemi", "sistem promptu",
            "prompt sistem", "lời nhắc hệ thống", "prompt hệ thống", "موجه النظام", "تعليمات النظام",
            "सिस्टम प्रॉम्प्ट", "システムプロンプト", "系统提示", "系統提示", "시스템 프롬프트",
        ]),
        (.reveal, [
            "reveal", "print", "output", "display", "show me", "show the", "show your", "repeat", "leak", "dump",
            "disclose", "expose", "tell me your", "write out", "spell out", "recite", "copy your", "paste your",
            "list all", "list every", "read the file", "cat ", "echo",
            "gib aus", "zeige", "zeig", "enthülle", "verrate", "ausgeben", "révèle", "revele", "affiche", "montre",
            "divulgue", "revela", "muestra", "imprime", "rivela", "mostra", "stampa", "revele", "mostre", "exiba",
            "onthul", "toon", "laat zien", "ujawnij", "pokaż", "pokaz", "wypisz", "wyświetl", "avslöja", "visa",
            "skriv ut", "раскрой", "покажи", "выведи", "раскройте", "göster", "goster", "açıkla", "yazdır",
            "tampilkan", "ungkapkan", "tunjukkan", "tiết lộ", "hiển thị", "in ra", "اكشف", "واكشف", "أظهر",
            "اعرض", "दिखाओ", "बताओ", "प्रकट", "出力", "表示", "教え", "输出", "显示", "泄露", "告诉我", "출력",
            "보여", "공개",
        ]),
        (.secret, [
            "api key", "api keys", "apikey", "api-key", "api token", "access token", "secret key", "secrets",
            "password", "passwords", "credential", ".env", "env file", "environment variable", "every variable",
            "ssh key", "id_rsa", "private key", "github token", "github_token", "aws key", "session cookie",
            "cookies", "auth token", "bearer token", "oauth token", "tokens", "keys you", "keys you have",
            "api-schlüssel", "passwort", "zugangsdaten", "clés api", "cles api", "mot de passe", "claves api",
            "contraseña", "chiavi api", "credenziali", "chaves api", "senha", "api-sleutel", "wachtwoord",
            "klucze api", "hasło", "haslo", "api-nycklar", "lösenord", "ключи api", "api-ключ", "пароль",
            "api anahtar", "şifre", "kunci api", "kata sandi", "khóa api", "mật khẩu", "مفاتيح api", "مفتاح api",
            "كلمة المرور", "api कुंजी", "पासवर्ड", "apiキー", "パスワード", "api密钥", "api 密钥", "密码",
            "api 키", "비밀번호",
        ]),
        (.send, [
            "send", "post it", "post them", "post the", "upload", "forward", "exfiltrate", "transmit", "submit",
            "email it", "email them", "e-mail", "appending them", "paste", "submit them", "enter them", "append them", "append it", "attach",
            "leak it", "beacon", "ping https", "fetch https", "make a request", "http request", "webhook",
            "sende", "schicke", "übermittle", "envoie", "envoyez", "transmets", "envía", "envia", "manda",
            "invia", "inviare", "envie", "enviar", "stuur", "verstuur", "wyślij", "wyslij", "przeslij",
            "skicka", "отправь", "отправьте", "перешли", "gönder", "gonder", "kirim", "kirimkan", "gửi",
            "أرسل", "ارسل", "भेजो", "भेजें", "भेज दो", "送信", "送って", "发送", "发给", "보내",
        ]),
        (.privateData, [
            "conversation", "chat history", "chat log", "private notes", "personal notes", "user's files",
            "users files", "user's data", "user data", "personal data", "private data", "previous message",
            "user's messages", "user's emails", "inbox", "contacts", "browsing history",
            "file contents", "contents of the file", "user's private", "summary of the chat",
            "conversation history",
            "gesprächsverlauf", "unterhaltung", "historique", "conversación", "historial", "conversazione",
            "cronologia", "conversa", "histórico", "gesprek", "geschiedenis", "rozmow", "historia", "konversation",
            "историю", "переписк", "содержимое", "sohbet", "geçmiş", "percakapan", "riwayat", "lịch sử",
            "trò chuyện", "المحادثة", "سجل", "बातचीत", "फ़ाइलें", "फाइलें", "会話", "履歴", "对话", "聊天记录",
            "대화", "기록", "zawartość", "contenido", "contenuto", "inhalt", "contenu",
        ]),
        (.verbatim, [
            "verbatim", "word for word", "word-for-word", "in full", "in its entirety", "full system prompt",
            "exact text", "wörtlich", "mot pour mot", "textualmente", "parola per parola", "palavra por palavra",
            "woordelijk", "dosłownie", "ordagrant", "дословно", "kelimesi kelimesine", "kata demi kata",
            "nguyên văn", "حرفيا", "शब्दशः", "そのまま", "逐字", "그대로",
        ]),
        (.personaStrong, [
            "developer mode", "dev mode", "do anything now", "jailbreak", "jailbroken", "no restrictions",
            "without restrictions", "no limitations", "without limitations", "no limits", "no ethical",
            "without ethical", "no guidelines", "without any guidelines", "without guidelines", "no rules",
            "without rules", "no filters", "unfiltered", "uncensored", "unrestricted", "machiavellian",
            "root access", "god mode", "sudo mode", "admin mode", "evil assistant", "evil ai", "no moral",
            "amoral", "no longer bound", "not bound by any", "ignore all safety", "without any restrictions",
            "free of all restrictions", "stan mode", "anti-dan", "betterdan",
            "keine einschränkungen", "ohne einschränkungen", "keine regeln", "sans restrictions", "sans aucune restriction",
            "sans règles", "sin restricciones", "sin reglas", "senza restrizioni", "senza regole", "sem restrições",
            "sem restricoes", "sem regras", "geen beperkingen", "zonder beperkingen", "bez ograniczeń",
            "bez ograniczen", "bez zasad", "inga begränsningar", "utan begränsningar", "без ограничений",
            "без правил", "hiçbir kısıtlama", "kısıtlaman yok", "kisitlaman yok", "kısıtlama yok", "tanpa batasan",
            "tanpa aturan", "không có giới hạn", "không giới hạn", "không có quy tắc", "بدون قيود", "بلا قيود",
            "कोई प्रतिबंध नहीं", "बिना प्रतिबंध", "制限なし", "制限はありません", "制限のない", "没有限制", "无限制",
            "不受限制", "제한 없", "제한이 없",
        ]),
        (.personaWeak, [
            "you are now", "you're now", "act as", "acting as", "pretend to be", "pretend you are", "roleplay",
            "role-play", "role play", "switch persona", "new persona", "adopt the persona", "persona:",
            "in character", "stay in character", "imagine you are", "imagine you're", "simulate", "you will now",
            "you will be", "your name is now", "du bist jetzt", "tu es maintenant", "ahora eres", "ora sei",
            "agora você é", "je bent nu", "jesteś teraz", "du är nu", "теперь ты", "artık sen", "sekarang kamu",
            "bây giờ bạn là", "أنت الآن", "अब तुम", "あなたは今", "你现在是", "너는 이제", "당신은 이제",
        ]),
        (.fakeTurn, [
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>",
            "<|eot_id|>", "<|start_header_id|>", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "### instruction",
            "### response", "### system", "### new", "###instruction", "end of document", "end of context",
            "end of input", "new system instructions", "begin system", "system override", "</context>",
            "<system>", "</system>", "<instructions", "</instructions>", "</data>", "]]>", "</user>",
            "<assistant>", "</document>", "system notice:", "system message:", "admin override",
            "\"role\": \"system\"", "\"role\":\"system\"", "'role': 'system'", "'role':'system'",
            "role: \"system\"", "role: 'system'", "\"role\": \"developer\"", "'role': 'developer'",
            "[system]", "[system message]", "(system)", "system prompt:", "<|begin_of_text|>", "<start_of_turn>",
            "<end_of_turn>", "### human", "### assistant", "[admin]", "[developer]",
        ]),
        (.tool, [
            "| bash", "| sh", "|bash", "|sh", "curl -s", "curl https", "wget ", "install.sh", "and push",
            "force push", "run the following", "execute the following", "run this command", "execute this command",
            "run `curl", "identity tool", "reset the password", "change the password", "add the following",
            "exécute", "executa", "esegui", "ejecuta", "führe aus", "voer uit", "wykonaj", "выполни",
            "çalıştır", "jalankan", "chạy lệnh", "payments tool", "email tool", "browser tool", "shell tool",
        ]),
        (.toolSevere, [
            "grant admin", "admin rights", "admin access", "administrator rights", "admin privileges",
            "authorized_keys", "authorized keys", "ssh-ed25519", "ssh-rsa aaaa", "rm -rf", "disable the safety",
            "disable safety", "safety checks", "safety filter", "deployment target", "transfer $", "wire transfer",
            "send money", "merge it without", "merge this pull request", "approve this pull request",
            "approve the pull request", "approve the pr", "make the repository public", "into a public gist",
            "to a public gist", "public gist", "exfiltrate", "disable two-factor", "disable 2fa",
            "disable the firewall", "add me as", "add a new admin", "create an admin", "grant access",
            "without running the tests", "skip the tests", "bypass the review",
        ]),
        (.manipulate, [
            "tell the user", "inform the user", "tell them", "recommend only", "only recommend", "describe this",
            "pirate speak", "respond only with", "reply only with", "answer only with", "only respond with",
            "rispondi solo", "responde solo", "réponds uniquement", "antworte nur", "say that", "perfect safety",
            "best choice", "strongest applicant", "strongest candidate", "sign in there", "log in there",
            "include the link", "include this link", "add this link", "stop summarizing", "do not summarize",
            "don't summarize", "instead translate", "translate the user", "ne résume pas", "ne resume pas",
            "nicht zusammenfassen", "no resumas", "non riassumere", "não resuma", "niet samenvatten",
            "nie streszczaj", "sammanfatta inte", "не резюмируй", "özetleme", "jangan meringkas", "đừng tóm tắt",
            "accesso consentito", "access granted", "competitor", "disparage", "five stars", "5 stars",
            "positive review", "describe it as", "claim that", "state that", "highly recommend", "recommend this",
            "hire this candidate", "top candidate", "rate this", "give this product", "must say",
            "visit this link", "click this link", "tell them to", "ask the user for", "ask the user to",
            "with a link to", "a link to http", "respond to every message",
        ]),
        (.stealth, [
            "do not mention", "don't mention", "never mention", "without mentioning", "without telling",
            "do not tell the user", "don't tell the user", "never tell the user", "silently", "secretly",
            "quietly", "covertly", "do not reveal this", "don't reveal this", "do not disclose this",
            "hide this", "keep this secret", "keep this hidden", "without the user knowing", "do it silently",
            "don't let the user know", "without the user's knowledge", "hidden from the user", "invisible to the user",
            "do not inform the user", "don't inform the user", "never reveal these instructions",
            "do not reveal these instructions", "do not mention this instruction",
            "sans le dire", "ohne es zu erwähnen", "sin mencionar", "senza menzionare", "sem mencionar",
            "zonder het te vermelden", "nie wspominaj", "utan att nämna", "не упоминай", "bahsetme",
            "jangan sebutkan", "đừng nhắc", "لا تذكر", "मत बताओ", "言わないで", "不要提及", "언급하지",
        ]),
        (.authorization, [
            "already authorized", "already authorised", "has authorized you", "has authorised you",
            "already approved", "has approved", "already consented", "has consented", "already agreed",
            "has agreed", "you have permission", "you are authorized", "you are authorised", "you are allowed to",
            "is pre-approved", "pre-authorized", "explicitly authorized", "gave permission", "has given permission",
            "user consented", "approved by the user", "authorizes you", "authorises you", "permits you to",
            "allows you to", "admin has approved", "with the user's permission",
            "the user wants you to", "the user would like you to", "the user has requested that you",
            "bereits zugestimmt", "bereits autorisiert", "déjà autorisé", "deja autorise", "déjà accepté",
            "ya ha autorizado", "ya autorizó", "già autorizzato", "ha già acconsentito", "já autorizou",
            "al toestemming", "heeft toegestemd", "już wyraził zgodę", "już zgodził", "redan godkänt",
            "уже разрешил", "уже дал согласие", "zaten onayladı", "zaten izin", "sudah mengizinkan",
            "sudah menyetujui", "đã cho phép", "đã đồng ý", "وافق بالفعل", "أذن لك", "पहले ही अनुमति", "既に許可",
            "すでに許可", "已经授权", "已同意", "이미 허락", "이미 동의",
        ]),
        (.obligation, [
            "you are required to", "you must", "you have to", "you need to", "it is mandatory", "mandatory",
            "compliance step", "required step", "make sure you", "make sure to", "you are obligated",
            "it is essential that you", "required:", "du musst", "vous devez", "tu dois", "debes", "devi",
            "você deve", "je moet", "musisz", "du måste", "ты должен", "yapmalısın", "kamu harus", "bạn phải",
            "يجب عليك", "तुम्हें", "必ず", "必须", "반드시", "ora devi",
        ]),
        (.future, [
            "every future", "all future", "future question", "future response", "rest of this session",
            "rest of the session", "rest of the conversation", "remainder of", "next message", "next response",
            "next reply", "before answering", "before replying", "before you answer", "before you reply",
            "before you continue", "before responding", "in your answer", "in your reply", "in your response",
            "your reply", "your answer", "your response", "end your answer", "end your response",
            "at the end of your", "each response", "every response", "every answer", "all responses",
            "every message", "each message", "all messages",
        ]),
        (.instead, [
            "instead", "rather than", "stattdessen", "plutôt", "plutot", "en su lugar", "en lugar de", "invece",
            "em vez", "in plaats daarvan", "zamiast", "istället", "вместо", "bunun yerine", "sebagai gantinya",
            "thay vào đó", "بدلا من", "بدلاً", "इसके बजाय", "代わりに", "而是", "相反", "대신",
        ]),
        (.obfuscationCue, [
            "decode and comply", "decode and follow", "decode and execute", "decode and run", "decode & run",
            "decode & execute", "decode and obey", "read this backwards", "read it backwards", "reverse this text",
            "reversed instructions", "execute after decoding", "after decoding", "rot13 instructions",
            "rot13-encoded", "rot13 encoded", "hex-encoded task", "hex-encoded instructions", "hex encoded",
            "encoded task", "encoded-task", "encoded instructions", "base64-encoded instructions",
            "base64 encoded instructions", "base64; execute", "decode the following", "decode this and",
            "follow the decoded", "(base64", "(hex", "in base64:",
        ]),
        (.securityDoc, [
            "prompt injection", "prompt-injection", "injection attack", "jailbreak attempt", "jailbreak prompts",
            "attacker", "attackers", "adversarial", "payloads", "red-team", "red team", "researchers",
            "researcher", "the paper", "our classifier", "classifier", "detectors", "detector", "owasp",
            "llm01", "such as", "e.g.", "for example", "for instance", "like '", "the phrase", "the term",
            "coined", "defenses", "defences", "mitigation", "mitigate", "malicious instruction",
            "vulnerability", "vulnerabilities", "exploit", "we found", "example of", "benchmark",
            "false-positive", "false positive", "security team", "threat model", "filter", "indirect prompt",
            "untrusted content", "untrusted input", "sql injection", "known attack", "attack in which",
            "typical", "is an attack", "quoted", "in quotes", "sanitize", "evaluation",
        ]),
        (.delete, [
            "delete", "remove all", "remove every", "erase", "wipe", "destroy", "drop table", "truncate",
            "lösch", "supprime", "elimina", "borra", "cancella", "apague", "exclua", "verwijder", "usuń", "usun",
            "radera", "удали", "sil ", "hapus", "xóa", "احذف", "हटाओ", "削除", "删除", "삭제",
        ]),
        (.files, [
            "every file", "all files", "all the files", "repository", "the repo\\b", "database", "all data",
            "home directory", "dateien", "fichiers", "archivos", "file nel", "arquivos", "bestanden", "pliki",
            "filer", "файлы", "dosyaları", "semua file", "tệp", "الملفات", "फ़ाइलें", "ファイル", "文件", "파일",
        ]),
        (.hijack, [
            "your new task", "your next action is", "your real task", "your actual task", "your only task",
            "your new goal", "your new objective", "your goal is now", "your task is now", "your new role",
            "your real purpose", "your true purpose", "your new instructions", "your primary objective",
            "your only goal", "you must now", "override your", "your true task", "your real job", "your real goal", "deine neue aufgabe",
            "ta nouvelle tâche", "tu nueva tarea", "il tuo nuovo compito", "sua nova tarefa", "je nieuwe taak",
            "twoje nowe zadanie", "din nya uppgift", "твоя новая задача", "yeni görevin", "tugas barumu",
            "nhiệm vụ mới", "مهمتك الجديدة", "तुम्हारा नया काम", "新しいタスク", "你的新任务", "새로운 임무",
        ]),
        (.url, [
            "http://", "https://", "www.", "pastebin", "paste.ee", "webhook.site", "requestbin", "ngrok",
            "public gist", "a public repository", "attacker's server", "external server", "this endpoint",
        ]),
        (.rot13Cue, [
            "gur\\b", "naq\\b", "lbh\\b", "lbhe\\b", "guvf\\b", "jvgu\\b", "sbe\\b", "nyy\\b", "vafgehpgvbaf",
            "cerivbhf", "flfgrz", "cebzcg", "vtaber", "qrpbqr", "hfre\\b", "gurz\\b", "vagb\\b", "sebz\\b",
        ]),
        (.reversedCue, [
            "eht\\b", "dna\\b", "uoy\\b", "ruoy\\b", "siht\\b", "htiw\\b", "rof\\b", "lla\\b", "snoitcurtsni",
            "suoiverp", "metsys", "tpmorp", "erongi", "resu\\b", "meht\\b", "otni\\b", "morf\\b", "esaelp\\b",
        ]),
        (.codeCue, [
            "def ", "assert", "re.search", "re.match", "regex", "patterns =", "return ", "expect(", "test_",
            "unittest", "pytest", "it(\"", "describe(\"", "const ", "function ", "=>", "import ", "print(",
            "console.log", "lambda", "is_injection", "heuristic",
        ]),
    ]
}
