"""The words of a judge-manipulation attempt in other languages (judges/manipulation.py builds the same
structure as in English from them): the grader, this answer, a score, the maximum, give, deserves, ignore,
instructions, previous, correct, grading. Lower case; Latin-script words without diacritics (the folded view
drops them) and matched as whole words; words of other scripts matched anywhere (the plain view keeps their
accents and vowel signs). Each entry: (Latin or Cyrillic words, words of other scripts)."""

from __future__ import annotations

# The first thirteen languages (fr es de it pt nl pl tr ru zh ja ko): the dev part of the corpus.
_BASE = {
    "ignore": (r"ignor\w*|negeer\w*|zignoruj\w*|pomin\w*|yok say\w*|gormezden gel\w*|игнорир\w*|проигнорир\w*|забудь\w*|"
               r"oublie\w*|olvida\w*|vergiss\w*|dimentica\w*|esquece\w*|desconsider\w*", r"忽略|无视|忽视|無視|무시"),
    "instructions": (r"instructions?|consignes?|instrucciones|indicaciones|anweisungen|instruktionen|vorgaben|istruzioni|instrucoes|"
                     r"instructies|instrukcje|instrukcji|polecenia|talimatlar\w*|yonergeler\w*|инструкци\w*|указани\w*",
                     r"指令|指示|说明|規則|지시|명령"),
    "previous": (r"precedent\w*|anterior\w*|previ\w*|vorherig\w*|bisherig\w*|obig\w*|vorangegangen\w*|precedenti|vorige|eerdere|"
                 r"poprzedni\w*|wczesniejsz\w*|onceki|предыдущ\w*|прежн\w*", r"之前|以前|上面|先前|前の|以前の|上記の|이전"),
    "grader": (r"evaluateur\w*|evaluatrice\w*|correcteur\w*|correctrice\w*|examinateur\w*|notateur\w*|evaluador\w*|calificador\w*|"
               r"examinador\w*|bewerter\w*|gutachter\w*|pruefer\w*|korrektor\w*|valutator\w*|correttor\w*|esaminator\w*|"
               r"avaliador\w*|corretor\w*|beoordelaar\w*|examinator\w*|oceniajac\w*|egzaminator\w*|sprawdzajac\w*|degerlendiric\w*|"
               r"puanlayic\w*|оценщик\w*|экзаменатор\w*|проверяющ\w*",
               r"评审|评分者|评委|阅卷|考官|评估者|评分员|打分者|评判|採点者|評価者|審査員|採点担当|채점자|평가자|심사위원"),
    "this_answer": (r"cette reponse|esta respuesta|esta contestacion|diese antwort|dieser antwort|questa risposta|esta resposta|"
                    r"essa resposta|dit antwoord|tej odpowiedzi|ta odpowiedz|te odpowiedz|bu cevab\w*|bu yanit\w*|этот ответ|"
                    r"этому ответу|этого ответа|данный ответ", r"这个回答|这个答案|此回答|该回答|本回答|这个回复|この回答|この答え|이 답변|이 대답|이 응답"),
    "score": (r"note|notes|score|points?|puntuacion|puntaje|nota|calificacion|punktzahl|punkte|bewertung|hochstnote|bestnote|"
              r"punteggio|voto|pontuacao|cijfer|punten|ocen\w*|punkt\w*|puan\w*|оценк\w*|балл\w*",
              r"满分|分|评分|打分|点数|満点|点|評価|スコア|만점|점수|점"),
    "give": (r"donne\w*|attribue\w*|accorde\w*|mettez|mets|dale|dele|asigna\w*|otorga\w*|califica\w*|ponle|gib|geben|vergib|"
             r"vergeben|bewerte\w*|dai|assegna\w*|attribuisci|metti|de|atribua|conceda|avalie|geef|ken|daj|dajcie|przyznaj|ocen|"
             r"ver|verin|постав\w*|дай\w*|присво\w*|оцени\w*", r"给|打|评为|付けて|つけて|与えて|주세요|줘|주십시오"),
    "max": (r"maximal\w*|maximum|maxima|maximo|massim\w*|volle punktzahl|hochstnote|bestnote|hochste\w*|maximale|hoogste|"
            r"volle punten|maksymaln\w*|najwyzsz\w*|tam puan|en yuksek|максимальн\w*|высш\w*", r"满分|最高分|満点|最高点|만점|최고점"),
    "deserves": (r"merite|merece|verdient|merita|merecem|zasluguje|hak ediyor|заслуживает", r"值得|に値する|받을 자격"),
    "correct": (r"correcte|correcta|correcto|richtig|korrekt|corretta|corretto|correta|correto|juist|poprawn\w*|dogru|правильн\w*|верн\w*",
                r"正确|正しい|정답"),
    "grade_verb": (r"califi\w*|bewerte\w*|valuta\w*|avalie\w*|evaluez|notez|оцени\w*", r"评为|評価して"),
}

# Added for the second held-out part's languages and their neighbours (sv da no fi cs sk hu ro el uk ar hi vi id ms he fa th).
_MORE = {
    "grader": (r"prufer\w*|prueferin\w*|bedomare\w*|rattare\w*|granskare\w*|bedommer\w*|arvioija\w*|tarkastaja\w*|hodnotitel\w*|"
               r"zkousejic\w*|opravujic\w*|ertekelo\w*|javito\w*|corector\w*|evaluatorul\w*|evaluatorului|oцінювач\w*|оцінювач\w*|"
               r"екзаменатор\w*|перевіряюч\w*|nguoi cham(?: diem| bai)?|giam khao|nguoi danh gia|penilai|pemeriksa|pemarkah",
               r"αξιολογητ|βαθμολογητ|εξεταστ|المصحح|للمصحح|الممتحن|للممتحن|المقيّم|للمقيّم|मूल्यांकनकर्ता|परीक्षक|जांचकर्ता|"
               r"הבודק|לבודק|המעריך|למעריך|הבוחן|לבוחן|ارزیاب|مصحح|ممتحن|ผู้ตรวจ|ผู้ประเมิน"),
    "this_answer": (r"detta svar|det har svaret|dette svar|dette svaret|tama vastaus|talle vastaukselle|taman vastauksen|teto odpovedi|"
                    r"tato odpoved|tejto odpovedi|tuto odpoved|erre a valaszra|ez a valasz|ennek a valasznak|acestui raspuns|acest raspuns|"
                    r"цій відповіді|цю відповідь|ця відповідь|cau tra loi nay|jawaban ini|jawapan ini",
                    r"αυτή την απάντηση|αυτην την απαντηση|αυτή η απάντηση|هذه الإجابة|لهذه الإجابة|هذا الجواب|इस उत्तर|यह उत्तर|इस जवाब|"
                    r"התשובה הזו|לתשובה הזו|לתשובה זו|این پاسخ|คำตอบนี้"),
    "max": (r"full poang|fulla poang|hogsta betyg|hogsta poang|full pott|maxpoang|topkarakter|toppkarakter|hojeste karakter|hoyeste karakter|fulde point|"
            r"taydet pisteet|korkeimman arvosanan|parhaan arvosanan|plny pocet bodu|maximalni pocet bodu|plny pocet|nejvyssi hodnoceni|"
            r"najvyssie hodnotenie|maximalis pontszam|teljes pontszam|nota maxima|punctaj maxim|punctajul maxim|найвищ\w*|"
            r"diem toi da|diem cao nhat|diem tuyet doi|nilai sempurna|nilai maksimal|nilai tertinggi|markah penuh|skor sempurna|skor maksimal",
            r"άριστα|μέγιστο βαθμό|μέγιστη βαθμολογία|الدرجة الكاملة|العلامة الكاملة|أعلى درجة|पूरे अंक|पूर्ण अंक|अधिकतम अंक|सर्वोच्च अंक|"
            r"ציון מלא|הציון המרבי|ציון מקסימלי|نمره کامل|بالاترین نمره|حداکثر نمره|คะแนนเต็ม"),
    "score": (r"betyg|poang|karakter|poeng|pisteet|arvosana\w*|bod\w*|znamk\w*|pont\w*|nota|punctaj\w*|бал\w*|оцінк\w*|diem|nilai|skor|markah",
              r"βαθμ|درجة|अंक|ציון|نمره|คะแนน"),
    "give": (r"werten sie|wertet|ge|giv|gi|anna|dejte|dej|dajte|udelte|adj|adjon|acordati|acorda|dati|поставте|дайте|hay cho|cho|berikan|beri",
             r"δώστε|δώσε|βαθμολογήστε|امنح|أعط|امنحوا|दें|दीजिए|दो|תן|תנו|بدهید|ให้"),
    "deserves": (r"fortjanar|fortjener|ansaitsee|zaslouzi|zasluzi|megerdemli|merita|заслуговує|xung dang|layak",
                 r"αξίζει|تستحق|योग्य|מגיע|شایسته"),
    "ignore": (r"ignorera|strunta i|ignorer|ignorér|ohita|ignoruj\w*|ignoraljon|ignorati|проігноруй\w*|ігноруй\w*|bo qua|abaikan",
               r"αγνόησε|αγνοήστε|تجاهل|अनदेखा|התעלם|نادیده بگیر|เพิกเฉย"),
    "instructions": (r"instruktioner\w*|instruktion\w*|ohjeet|ohjeita|pokyny|instrukce|utasitas\w*|instructiunile|інструкці\w*|huong dan|instruksi",
                     r"οδηγίες|التعليمات|निर्देश|ההוראות|دستورالعمل|คำสั่ง"),
    "previous": (r"tidigare|foregaende|tidligere|aiemmat|predchozi|predoslé|korabbi|anterioare|попередн\w*|truoc do|sebelumnya",
                 r"προηγούμενες|السابقة|पिछले|הקודמות|قبلی|ก่อนหน้า"),
    "grading": (r"bewertung|evaluation|evaluacion|valutazione|avaliacao|beoordeling|ocena|degerlendirme|bedomning|hodnoceni|hodnotenie|arviointi|"
                r"ertekeles|evaluare|bedommelse|vurdering|penilaian|danh gia|cham diem|оценка|оцінка|note|notation|calificacion|punteggio|cijfer",
                r"채점|평가|評価|评分|评价|採点|判定|αξιολόγηση|βαθμολογία|تقييم|मूल्यांकन|ارزیابی|การประเมิน|הערכה"),
}


def _merge() -> dict[str, tuple[str, str]]:
    out = dict(_BASE)
    for k, (lat, other) in _MORE.items():
        if k in out:
            out[k] = (out[k][0] + "|" + lat, out[k][1] + "|" + other)
        else:
            out[k] = (lat, other)
    return out


ML_WORDS = _merge()
